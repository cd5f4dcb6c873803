"""Every topology in topologies/, run as a user runs it: a clip with motion served over RTSP.

A real RTSP camera (GStreamer, its own process) serves ``camera-300s.mkv``, so
the topologies' default URL ``rtsp://rtspsim:554/media/camera-300s.mkv`` and
credentials work unchanged; a real extension server (with the credentials of
.env.example, the topologies' defaults) answers as the module ``grpcExtension``
(``--module-address``). Each instance only shortens the gate to 1 s, runs
until the clip has looped once, and is deactivated. Then: the events LVA publishes, in
order, with their subjects; recordings that PyAV opens, as long as the gate
let through (plus at most one GOP before it: a recording starts at a keyframe).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import pytest
from lva_extension.client.clips import moving_boxes

from tests.support.media import (
    FPS,
    FRAMES,
    GOP_SECONDS,
    motion_spans,
    read_recording,
)
from tests.support.paths import REPO
from tests.support.sample_edge import sample_edge
from tests.support.simulator import (
    event_type,
    messages,
    node_of,
    of_instance,
)
from tests.support.waiting import wait_for

GATE = Fraction(1)  # minimumActivationTime = maximumActivationTime in these runs
CLIP_SECONDS = Fraction(FRAMES, FPS)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    with sample_edge(tmp_path_factory.mktemp("topologies")) as running:
        yield running


def instance_name(folder: str) -> str:
    return folder.replace("grpcExtension", "g")


@dataclass(frozen=True)
class Run:
    published: list[dict[str, Any]]  # the instance's messages, in order
    # Recordings stopped before the deactivation: each ran its whole gate interval. One
    # that started later is cut short by the deactivation (a recording stops with its
    # graph), however long its interval: the later the test deactivates (a loaded
    # machine), the likelier another burst of motion has opened the gate by then.
    complete: frozenset[str]


def run_topology(sim, folder: str, recordings: int) -> Run:
    """Set, activate until the clip has looped and ``recordings`` have stopped, deactivate."""
    topology = json.loads((REPO / "topologies" / folder / "topology.json").read_text())
    declared = {p["name"] for p in topology["properties"]["parameters"]}
    gate = ("minimumActivationTime", "maximumActivationTime")
    values = {name: "PT1S" for name in gate if name in declared}
    instance = instance_name(folder)
    body = {
        "name": instance,
        "properties": {
            "topologyName": topology["name"],
            "parameters": [{"name": k, "value": v} for k, v in values.items()],
        },
    }
    assert sim.invoke("GraphTopologySet", topology)[0] in (200, 201)
    assert sim.invoke("GraphInstanceSet", body)[0] == 201
    assert sim.invoke("GraphInstanceActivate", {"name": instance}) == (200, None)
    sink = sim.options.state_dir / "messages.jsonl"

    def done() -> bool:
        mine = [event_type(m) for m in of_instance(messages(sink), instance)]
        return (
            mine.count("MediaSessionEstablished") >= 2
            and mine.count("RecordingStopped") >= recordings
        )

    wait_for(done, timeout=30, what=f"{folder}: a second session and {recordings} recordings")
    stopped = {
        m["body"]["outputLocation"]
        for m in of_instance(messages(sink), instance)
        if event_type(m) == "RecordingStopped"
    }
    assert sim.invoke("GraphInstanceDeactivate", {"name": instance}) == (200, None)
    assert sim.invoke("GraphInstanceDelete", {"name": instance}) == (200, None)
    assert sim.invoke("GraphTopologyDelete", {"name": topology["name"]}) == (200, None)
    return Run(of_instance(messages(sink), instance), frozenset(stopped))


def check_sessions(published: list[dict[str, Any]]) -> None:
    """MediaSessionEstablished first, with the SDP; at the clip's end a drop, and a new one."""
    first = published[0]
    assert (event_type(first), node_of(first), first["outputName"]) == (
        "MediaSessionEstablished",
        "rtspSource",
        "AmsDiagnostics",
    )
    sdp = first["body"]["sdp"]
    assert sdp.startswith("SDP:\nv=0") and "m=video" in sdp and "H264/90000" in sdp
    kinds = [
        event_type(m) for m in published if "/sources/" in m["applicationProperties"]["subject"]
    ]
    assert kinds[:3] == ["MediaSessionEstablished", "NetworkError", "MediaSessionEstablished"]
    [ended] = [m for m in published if event_type(m) == "NetworkError"][:1]
    assert ended["body"]["errorCode"] == "StreamEnded"


def check_recordings(sim, run: Run, instance: str, pattern: str, gated: bool) -> list[Any]:
    """Each recording: Started, then Available and Stopped; its files play as long as expected."""
    published = run.published
    operational = [m for m in published if m["outputName"] == "AmsOperational"]
    assert operational, "no recording events"
    by_location: dict[str, list[str]] = {}
    for message in operational:
        assert (
            message["applicationProperties"]["subject"]
            == f"/graphInstances/{instance}/sinks/assetSink"
        )
        assert message["body"]["outputType"] == "assetName"
        by_location.setdefault(message["body"]["outputLocation"], []).append(event_type(message))
    for location, kinds in by_location.items():
        assert re.fullmatch(pattern, location), location
        assert kinds[0] == "RecordingStarted" and sorted(kinds) == [
            "RecordingAvailable",
            "RecordingStarted",
            "RecordingStopped",
        ], (location, kinds)
    made = [r for r in sim.simulator.recordings() if r.instance == instance]
    assert sorted(r.location for r in made) == sorted(by_location)
    played = []
    for recording in made:
        parts = [read_recording(file.path) for file in recording.files]
        assert all(part.codec == "h264" for part in parts)
        seconds = sum(part.seconds for part in parts)
        if gated:  # the gate's interval, plus at most a GOP of pre-roll to its keyframe
            assert seconds <= GATE + GOP_SECONDS, (recording.location, float(seconds))
            if recording.location in run.complete:
                assert seconds >= GATE, (recording.location, float(seconds))
                assert any(part.lit_frames for part in parts), "the recording shows no moving box"
        played.append(seconds)
    return played


def inference_times(published: list[dict[str, Any]], node: str) -> list[Fraction]:
    return [
        Fraction(m["body"]["timestamp"], 90_000) % CLIP_SECONDS
        for m in published
        if event_type(m) == "Inference" and node_of(m) == node
    ]


def in_motion(time: Fraction) -> bool:
    frame = 1 / Fraction(FPS)
    return any(start <= time < stop + frame for start, stop in motion_spans())


def test_inferencing_with_grpc_extension(sim):
    """Motion -> extension -> hub; motion -> gate -> a new asset per burst of motion."""
    run = run_topology(sim, "grpcExtension", recordings=2)
    published = run.published
    check_sessions(published)
    inferences = [m for m in published if event_type(m) == "Inference"]
    assert {node_of(m) for m in inferences} == {"grpcExtension"}  # motion is not published
    assert {m["outputName"] for m in inferences} == {"inferenceOutput"}
    times = inference_times(published, "grpcExtension")
    assert times and all(in_motion(t) for t in times)  # the extension sees only motion
    played = check_recordings(sim, run, "g", r"assetMD-\d{8}T\d{6}Z", gated=True)
    assert len(played) >= 2  # one per burst of motion


def test_cvr_with_grpc_extension(sim):
    """Everything recorded to one asset, inferences on every sampled frame."""
    run = run_topology(sim, "cvr-with-grpcExtension", recordings=0)
    published = run.published
    check_sessions(published)
    times = inference_times(published, "grpcExtension")
    assert len(times) >= 5 * float(CLIP_SECONDS) - 2  # maximumSamplesPerSecond 5, not only motion
    [played] = check_recordings(
        sim, run, "cvr-with-g", r"cvr-CVRWithGrpcExtension-cvr-with-g", gated=False
    )
    # The whole first pass of the clip and some of the second, on across the reconnect.
    assert played >= CLIP_SECONDS - GOP_SECONDS


def test_evr_to_assets_by_grpc_extension(sim):
    """The extension's results (its motion processor) open the gate."""
    run = run_topology(sim, "evr-grpcExtension-assets", recordings=2)
    published = run.published
    check_sessions(published)
    times = inference_times(published, "grpcExtension")
    assert times and all(in_motion(t) for t in times)
    check_recordings(
        sim, run, "evr-g-assets", r"sampleAssetFromEVR-LVAEdge-\d{8}T\d{6}Z", gated=True
    )


def test_evr_on_motion_plus_grpc_extension(sim):
    """Motion opens the gate; the extension sees every sampled frame regardless."""
    run = run_topology(sim, "evr-motion-grpcExtension", recordings=2)
    published = run.published
    check_sessions(published)
    times = inference_times(published, "grpcExtension")
    assert any(not in_motion(t) for t in times)  # fed by the camera, not by motion
    check_recordings(
        sim, run, "evr-motion-g", r"sampleAssetFromEVR-LVAEdge-\d{8}T\d{6}Z", gated=True
    )


def test_ai_composition(sim):
    """Two extensions in a row; only the second one's inferences are published, and gate."""
    run = run_topology(sim, "ai-composition", recordings=2)
    published = run.published
    check_sessions(published)
    inferences = [m for m in published if event_type(m) == "Inference"]
    assert {node_of(m) for m in inferences} == {"grpcExtension"}
    assert all(in_motion(t) for t in inference_times(published, "grpcExtension"))
    check_recordings(sim, run, "ai-composition", r"sampleAssetAI-Comp-\d{8}T\d{6}Z", gated=True)


def test_motion_with_grpc_extension(sim):
    """LVA 1.0's shape: motion events with their boxes, and inferences, both on the hub."""
    run = run_topology(sim, "motion-with-grpcExtension", recordings=0)
    published = run.published
    check_sessions(published)
    motion = [
        m for m in published if event_type(m) == "Inference" and node_of(m) == "motionDetection"
    ]
    assert motion and all(in_motion(t) for t in inference_times(published, "motionDetection"))
    boxes = moving_boxes(FRAMES)
    for message in motion:
        frame = round(Fraction(message["body"]["timestamp"], 90_000) * FPS) % FRAMES
        expected = [b.box(frame) for b in boxes if b.box(frame)]
        for inference in message["body"]["inferences"]:
            assert inference["type"] == "motion" and "subtype" not in inference
            box = inference["motion"]["box"]
            # The region covers where the box is now (and may include where it just was).
            assert any(
                box["l"] <= e[0] + 0.02 and box["l"] + box["w"] >= e[0] + e[2] - 0.02
                for e in expected
            ), (frame, box, expected)
    assert inference_times(published, "grpcExtension")
    assert not [m for m in published if m["outputName"] == "AmsOperational"]
