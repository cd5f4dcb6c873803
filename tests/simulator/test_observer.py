"""The observer seam: what a live view would see of a running graph."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from lva_extension.client.clips import dark_light_frames, write_clip
from lva_simulator.graph.node import Playback
from lva_simulator.graph.observer import NodeStats, SentFrame

from tests.support.simulator import instance, messages, running_simulator, topology


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[dict[str, Any]] = []
        self.frames: list[SentFrame] = []
        self.stats: list[Sequence[NodeStats]] = []

    def published(self, message: dict[str, Any]) -> None:
        with self.lock:
            self.messages.append(message)

    def frame_sent(self, frame: SentFrame) -> None:
        with self.lock:
            self.frames.append(frame)

    def node_stats(self, stats: Sequence[NodeStats]) -> None:
        with self.lock:
            self.stats.append(list(stats))


def test_the_observer_sees_messages_frames_and_node_stats(tmp_path, start_server):
    clip = tmp_path / "clip.mp4"
    write_clip(clip, dark_light_frames(96, 64, 30, scene_frames=10), fps=15, gop=5)  # 2 s
    extension = start_server()
    observer = Recorder()
    once = Playback(loop=False, realtime=True)
    with running_simulator(tmp_path / "sim", playback=once, observer=observer) as sim:
        assert sim.invoke("GraphTopologySet", topology())[0] == 201
        body = instance(
            "seen", rtspUrl=str(clip), grpcExtensionAddress=f"tcp://{extension.address}"
        )
        assert sim.invoke("GraphInstanceSet", body)[0] == 201
        assert sim.invoke("GraphInstanceActivate", {"name": "seen"}) == (200, None)
        sim.wait_until_finished("seen")
        written = messages(sim.options.state_dir / "messages.jsonl")
    with observer.lock:
        assert observer.messages == written and len(written) == 30  # every message, as written
        assert len(observer.frames) == 30
        frame = observer.frames[0]
        # As the extension got it: scaled to the topology's 64 x 48 (stretch), raw rgb24.
        assert frame.image.shape == (48, 64, 3)
        assert (frame.instance, frame.node, frame.encoding, frame.pixel_format) == (
            "seen",
            "grpcExtension",
            "raw",
            "rgb24",
        )
        assert frame.inferences[0].classification.tag.value == "dark"
        assert observer.stats, "no node stats in two seconds"
        last = {s.node: s for s in observer.stats[-1]}
    assert set(last) == {"rtspSource", "grpcExtension", "hubSink"}
    grpc = last["grpcExtension"]
    assert grpc.type == "MediaGraphGrpcExtension" and grpc.frames_in > 0 and grpc.acks > 0
    assert grpc.latency_p50_ms is not None and grpc.latency_p99_ms >= grpc.latency_p50_ms
