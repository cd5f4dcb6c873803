"""Asset and file sinks on real files: segments, names, size limits, a folder they cannot write.

The clips are played from files as fast as the graph takes them (``--fast``):
media time, which the gate and the sinks go by, is the clip's own, so a 70 s
recording takes a second or two.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from lva_extension.client.clips import dark_light_frames, write_clip

from tests.support import graphs
from tests.support.media import GOP_SECONDS, make_moving_clip, read_recording
from tests.support.simulator import (
    event_type,
    messages,
    node_of,
    of_instance,
    running_simulator,
)
from tests.support.waiting import wait_for

# a dark/light clip of 70 s, 4 fps, a keyframe every second
LONG_FPS, LONG_SECONDS = 4, 70


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    write_clip(path, dark_light_frames(64, 48, LONG_FPS * LONG_SECONDS), fps=LONG_FPS, gop=LONG_FPS)
    return path


@pytest.fixture(scope="module")
def moving_clip(tmp_path_factory):
    return make_moving_clip(tmp_path_factory.mktemp("moving") / "moving.mp4", size=(160, 120))


def run_once(sim, name: str, topology: dict, **parameters: str) -> list[dict]:
    assert sim.invoke("GraphTopologySet", topology)[0] == 201
    assert (
        sim.invoke("GraphInstanceSet", graphs.instance(name, topology["name"], **parameters))[0]
        == 201
    )
    assert sim.invoke("GraphInstanceActivate", {"name": name}) == (200, None)
    sim.wait_until_finished(name)
    assert sim.invoke("GraphInstanceDeactivate", {"name": name}) == (200, None)
    return of_instance(messages(sim.options.state_dir / "messages.jsonl"), name)


def operational(published: list[dict]) -> list[tuple[str, str]]:
    return [
        (event_type(m), m["body"]["outputLocation"])
        for m in published
        if m["outputName"] == "AmsOperational"
    ]


def test_an_asset_is_a_folder_of_segments_of_segment_length(tmp_path, long_clip):
    with running_simulator(tmp_path / "sim", assets_dir=tmp_path / "assets") as sim:
        topology = graphs.topology(
            "Cvr",
            graphs.rtsp_source(),
            graphs.asset_sink("cvr-${System.GraphInstanceName}", segment="PT30S"),
        )
        published = run_once(sim, "cvr-1", topology, rtspUrl=str(long_clip))
    # Cut at the first keyframe after each 30 s, so exactly 30 s here; the rest in a third.
    folder = tmp_path / "assets" / "cvr-cvr-1"
    segments = sorted(folder.glob("*.mp4"))
    assert [p.name for p in segments] == [
        "segment-0001.mp4",
        "segment-0002.mp4",
        "segment-0003.mp4",
    ]
    recorded = [read_recording(p) for p in segments]
    assert [r.seconds for r in recorded] == [30, 30, 10]
    assert [r.frames for r in recorded] == [120, 120, 40]  # every frame, none twice
    assert operational(published) == [
        ("RecordingStarted", "cvr-cvr-1"),
        ("RecordingAvailable", "cvr-cvr-1"),  # the first segment is complete: playable
        ("RecordingStopped", "cvr-cvr-1"),
    ]
    assert {node_of(m) for m in published} == {"assetSink"}


def test_a_file_sink_writes_one_file_per_gate_activation_under_its_volume(tmp_path, moving_clip):
    media = tmp_path / "media-on-host"
    with running_simulator(tmp_path / "sim", volumes={"/var/media": media}) as sim:
        topology = graphs.topology(
            "Evr",
            graphs.rtsp_source(),
            graphs.motion(),
            graphs.gate("motionDetection"),
            graphs.file_sink(
                "/var/media", "evr-${System.GraphInstanceName}-${System.PreciseDateTime}"
            ),
        )
        published = run_once(sim, "evr-1", topology, rtspUrl=str(moving_clip))
        made = sim.simulator.recordings()
    files = sorted(media.glob("evr-evr-1-*.mp4"))
    assert len(files) == 2  # two boxes cross the frame: two bursts of motion
    for path in files:
        recorded = read_recording(path)
        # The gate's second, from the keyframe at or before it opened.
        assert 1 <= recorded.seconds <= 1 + GOP_SECONDS
        assert recorded.lit_frames, "the recording shows no moving box"
    events = operational(published)
    assert [kind for kind, _ in events] == [
        "RecordingStarted", "RecordingStopped", "RecordingAvailable",
    ] * 2  # fmt: skip
    locations = sorted({location for _, location in events})
    # LVA reports the path inside the module; here it lands in the mapped folder.
    assert locations == sorted(f"/var/media/{p.name}" for p in files)
    assert all(m["body"]["outputType"] == "filePath" for m in published)
    assert sorted(r.path for r in made) == files


def test_a_file_sink_keeps_within_maximum_size_deleting_its_oldest_files(tmp_path):
    # Noise compresses badly: each second of it is about 1 MiB.
    rng = np.random.default_rng(7)
    noise = (rng.integers(0, 256, (480, 640, 3), dtype=np.uint8) for _ in range(25))
    clip = tmp_path / "noise.mp4"
    write_clip(clip, noise, fps=10, gop=5)
    media = tmp_path / "media"
    with running_simulator(tmp_path / "sim", volumes={"/var/media": media}) as sim:
        topology = graphs.topology(
            "Noise",
            graphs.rtsp_source(),
            graphs.motion(),
            graphs.gate("motionDetection"),
            graphs.file_sink("/var/media", "noise-${System.PreciseDateTime}", maximum_mib="1"),
        )
        published = run_once(sim, "noise-1", topology, rtspUrl=str(clip))
        made = sim.simulator.recordings()
    # Motion everywhere, all the time: a recording per second of the clip, back to back.
    assert len(made) >= 3
    kept = sorted(media.glob("noise-*.mp4"))
    assert sum(p.stat().st_size for p in kept) <= 1024 * 1024 or len(kept) == 1
    assert kept == [made[-1].path]  # the newest stays, the oldest went first
    assert [kind for kind, _ in operational(published)].count("RecordingStopped") == len(made)


def test_a_folder_that_cannot_be_written_ends_the_instance_with_an_error_event(
    tmp_path, moving_clip
):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with running_simulator(tmp_path / "sim", volumes={"/var/media": blocker / "inside"}) as sim:
        topology = graphs.topology(
            "Blocked",
            graphs.rtsp_source(),
            graphs.motion(),
            graphs.gate("motionDetection"),
            graphs.file_sink("/var/media", "x-${System.DateTime}"),
        )
        assert sim.invoke("GraphTopologySet", topology)[0] == 201
        body = graphs.instance("blocked", "Blocked", rtspUrl=str(moving_clip))
        assert sim.invoke("GraphInstanceSet", body)[0] == 201
        assert sim.invoke("GraphInstanceActivate", {"name": "blocked"}) == (200, None)

        def state() -> str:
            return sim.invoke("GraphInstanceGet", {"name": "blocked"})[1]["properties"]["state"]

        wait_for(lambda: state() == "Inactive", what="the instance to end")
        published = of_instance(messages(sim.options.state_dir / "messages.jsonl"), "blocked")
        [error] = [m for m in published if event_type(m) == "StorageError"]
        assert error["outputName"] == "AmsDiagnostics"
        assert node_of(error) == "fileSink"
        assert error["body"]["outputLocation"].startswith("/var/media/x-")
        assert "Not a directory" in error["body"]["message"]
        assert "blocked" not in sim.simulator.module.runs
        # The module goes on: the instance can be changed, or activated again.
        assert sim.invoke("GraphInstanceList", {})[0] == 200
        assert sim.invoke("GraphInstanceDelete", {"name": "blocked"}) == (200, None)


def test_durations_are_the_gates_with_a_negative_offset_too(tmp_path, moving_clip):
    """activationSignalOffset -PT0.5S: half a second of buffered media before the event."""
    media = tmp_path / "media"
    with running_simulator(tmp_path / "sim", volumes={"/var/media": media}) as sim:
        topology = graphs.topology(
            "PreRoll",
            graphs.rtsp_source(),
            graphs.motion(),
            graphs.gate("motionDetection", offset="-PT0.5S"),
            graphs.file_sink("/var/media", "pre-${System.PreciseDateTime}"),
        )
        run_once(sim, "pre-1", topology, rtspUrl=str(moving_clip))
    files = sorted(media.glob("pre-*.mp4"))
    assert len(files) == 2
    for path in files:
        # -offset + min = 1.5 s, from the keyframe at or before (event - 0.5 s).
        assert Fraction(3, 2) <= read_recording(path).seconds <= Fraction(3, 2) + GOP_SECONDS
