"""Motion detection's options, the Cognitive Services node, and the twin's event output names."""

from __future__ import annotations

import itertools
import socket
from fractions import Fraction

import pytest
from lva_simulator.graph.events import EventOutputs
from lva_simulator.graph.node import Playback

from tests.support import graphs
from tests.support.media import make_moving_clip, motion_spans
from tests.support.simulator import (
    event_type,
    messages,
    node_of,
    of_instance,
    running_simulator,
)
from tests.support.waiting import wait_for


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_moving_clip(tmp_path_factory.mktemp("motion") / "moving.mp4", size=(160, 120))


def motion_events(sim, name: str, clip, **options: str) -> list[dict]:
    topology = graphs.topology(
        f"M{name}",
        graphs.rtsp_source(),
        graphs.motion(**options),
        graphs.hub_sink("motionDetection"),
    )
    assert sim.invoke("GraphTopologySet", topology)[0] == 201
    assert (
        sim.invoke("GraphInstanceSet", graphs.instance(name, f"M{name}", rtspUrl=str(clip)))[0]
        == 201
    )
    assert sim.invoke("GraphInstanceActivate", {"name": name}) == (200, None)
    sim.wait_until_finished(name)
    return of_instance(messages(sim.options.state_dir / "messages.jsonl"), name)


def test_motion_options(tmp_path, clip):
    with running_simulator(tmp_path / "sim") as sim:
        every = motion_events(sim, "every", clip)
        aggregated = motion_events(sim, "aggregated", clip, eventAggregationWindow="PT1S")
        bare = motion_events(sim, "bare", clip, outputMotionRegion="false", sensitivity="High")
        stats = {s.node: s for s in sim.simulator.module.runs["aggregated"].stats()}
    frames_with_motion = len(every)
    # No aggregation: one event per frame with motion, each with its regions.
    assert frames_with_motion >= 15
    assert all(i["motion"]["box"]["w"] > 0 for m in every for i in m["body"]["inferences"])
    # A 1 s window: at most one event a second, the first of each window; the frames still go on.
    times = [Fraction(m["body"]["timestamp"], 90_000) for m in aggregated]
    assert all(later - earlier >= 1 for earlier, later in itertools.pairwise(times))
    assert len(aggregated) == len(motion_spans())  # each burst is shorter than a second here
    assert stats["motionDetection"].frames_out == frames_with_motion
    # outputMotionRegion false: one motion inference without a box per event.
    assert bare and all(m["body"]["inferences"] == [{"type": "motion", "motion": {}}] for m in bare)


def test_a_cognitive_services_vision_extension_is_the_grpc_wire(tmp_path, clip, start_server):
    extension = start_server()
    node = {
        "@type": f"{graphs.M}MediaGraphCognitiveServicesVisionExtension",
        "name": "spatialAnalysis",
        "endpoint": {
            "@type": f"{graphs.M}MediaGraphUnsecuredEndpoint",
            "url": f"tcp://{extension.address}",
        },
        "image": {
            "scale": {"mode": "stretch", "width": "64", "height": "48"},
            "format": {"@type": f"{graphs.M}MediaGraphImageFormatJpeg"},
        },
        "samplingOptions": {"maximumSamplesPerSecond": "5"},
        "extensionConfiguration": "colorIntensity",
        "inputs": graphs.inputs("rtspSource", video=True),
    }
    topology = graphs.topology(
        "Cognitive", graphs.rtsp_source(), node, graphs.hub_sink("spatialAnalysis")
    )
    with running_simulator(tmp_path / "sim") as sim:
        assert sim.invoke("GraphTopologySet", topology)[0] == 201
        assert (
            sim.invoke("GraphInstanceSet", graphs.instance("cv", "Cognitive", rtspUrl=str(clip)))[0]
            == 201
        )
        assert sim.invoke("GraphInstanceActivate", {"name": "cv"}) == (200, None)
        sim.wait_until_finished("cv")
        published = of_instance(messages(sim.options.state_dir / "messages.jsonl"), "cv")
    assert len(published) == 5 * 4  # 4 s at 5 samples a second
    assert {node_of(m) for m in published} == {"spatialAnalysis"}


def test_the_twins_output_names_decide_where_module_events_go(tmp_path, clip):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    outputs = EventOutputs(operational="recordings", diagnostics="")  # diagnostics off
    live = Playback(loop=True, realtime=True)
    with running_simulator(
        tmp_path / "sim", event_outputs=outputs, playback=live, assets_dir=tmp_path / "assets"
    ) as sim:
        extension = {
            "@type": f"{graphs.M}MediaGraphGrpcExtension",
            "name": "grpcExtension",
            "endpoint": {
                "@type": f"{graphs.M}MediaGraphUnsecuredEndpoint",
                "url": f"tcp://127.0.0.1:{closed}",
            },
            "dataTransfer": {"mode": "embedded"},
            "image": {"format": {"@type": f"{graphs.M}MediaGraphImageFormatJpeg"}},
            "inputs": graphs.inputs("rtspSource"),
        }
        topology = graphs.topology(
            "Outputs",
            graphs.rtsp_source(),
            graphs.motion(),
            graphs.gate("motionDetection"),
            graphs.asset_sink("o-${System.DateTime}", source="signalGate"),
            extension,
            graphs.hub_sink("grpcExtension"),
        )
        assert sim.invoke("GraphTopologySet", topology)[0] == 201
        assert (
            sim.invoke("GraphInstanceSet", graphs.instance("out", "Outputs", rtspUrl=str(clip)))[0]
            == 201
        )
        assert sim.invoke("GraphInstanceActivate", {"name": "out"}) == (200, None)
        counters = sim.simulator.module.runs["out"].nodes["grpcExtension"].context.counters
        sink = sim.options.state_dir / "messages.jsonl"
        wait_for(
            lambda: "RecordingStopped" in [event_type(m) for m in messages(sink)],
            what="a recording",
        )
        assert counters.errors >= 1  # the extension failed, and would have been a diagnostic
        assert sim.invoke("GraphInstanceDeactivate", {"name": "out"}) == (200, None)
        published = messages(sink)
    assert {m["outputName"] for m in published} == {"recordings"}
    assert {event_type(m) for m in published} <= {
        "RecordingStarted",
        "RecordingAvailable",
        "RecordingStopped",
    }
