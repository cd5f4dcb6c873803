"""The observer seam: all a live view sees of a running graph, from the graph's own nodes."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from lva_extension.frames import decode
from lva_simulator.graph.observer import AnalyzedFrame, EncodedImage, NodeStats
from lva_simulator.graph.recordings import RecordedFile, Recording

from tests.support import graphs
from tests.support.media import FRAMES, make_moving_clip
from tests.support.simulator import messages, running_simulator


class Watcher:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[str] = []
        self.messages: list[dict[str, Any]] = []
        self.frames: list[AnalyzedFrame] = []
        self.stats: list[Sequence[NodeStats]] = []
        self.files: list[tuple[Recording, RecordedFile]] = []

    def instance_started(self, instance: str, topology: str) -> None:
        with self.lock:
            self.calls.append(f"started {instance} {topology}")

    def instance_stopped(self, instance: str) -> None:
        with self.lock:
            self.calls.append(f"stopped {instance}")

    def published(self, message: dict[str, Any]) -> None:
        with self.lock:
            self.messages.append(message)

    def frame_analyzed(self, frame: AnalyzedFrame) -> None:
        with self.lock:
            self.frames.append(frame)

    def node_stats(self, stats: Sequence[NodeStats]) -> None:
        with self.lock:
            self.stats.append(list(stats))
            self.calls.append("stats")

    def recording_written(self, recording: Recording, file: RecordedFile) -> None:
        with self.lock:
            self.files.append((recording, file))


def test_the_observer_sees_runs_messages_frames_stats_and_recorded_files(tmp_path, server):
    clip = make_moving_clip(tmp_path / "moving.mp4", size=(160, 120))  # 4 s, two boxes cross
    watcher = Watcher()
    topology = graphs.topology(
        "Watched",
        graphs.rtsp_source(),
        graphs.motion(),
        # 160 x 120 padded into 160 x 160, converted to bgr24: what the extension gets.
        graphs.grpc_extension(
            f"tcp://{server.address}",
            "motionDetection",
            {"@type": "#Microsoft.Media.MediaGraphImageFormatRaw", "pixelFormat": "bgr24"},
            mode="Pad",
            width="160",
            height="160",
        ),
        graphs.hub_sink("grpcExtension"),
        graphs.gate("motionDetection"),
        graphs.file_sink("/media", "watched-${System.PreciseDateTime}"),
    )
    media = tmp_path / "media"
    with running_simulator(tmp_path / "sim", observer=watcher, volumes={"/media": media}) as sim:
        assert sim.invoke("GraphTopologySet", topology)[0] == 201
        body = graphs.instance("seen", "Watched", rtspUrl=str(clip))
        assert sim.invoke("GraphInstanceSet", body)[0] == 201
        assert sim.invoke("GraphInstanceActivate", {"name": "seen"}) == (200, None)
        sim.wait_until_finished("seen")
        assert sim.invoke("GraphInstanceDeactivate", {"name": "seen"}) == (200, None)
        written = messages(sim.options.state_dir / "messages.jsonl")
        listed = sim.simulator.recordings()

    with watcher.lock:
        assert watcher.calls[0] == "started seen Watched"
        assert watcher.calls[-2:] == ["stats", "stopped seen"]  # the final counters, then the end
        assert watcher.messages == written  # every message, as written
        motion = [f for f in watcher.frames if f.node == "motionDetection"]
        sent = [f for f in watcher.frames if f.node == "grpcExtension"]
        final = {s.node: s for s in watcher.stats[-1]}
        files = list(watcher.files)

    # Motion detection: every frame of the clip, as decoded, with its regions (some have none).
    assert len(motion) == FRAMES
    assert all(isinstance(f.image, np.ndarray) and f.image.shape == (120, 160, 3) for f in motion)
    assert 0 < sum(bool(f.inferences) for f in motion) < FRAMES
    assert [f.sequence for f in motion] == list(range(1, FRAMES + 1))

    # The extension: the frames that moved, as it got them, with its answers and the regions.
    assert len(sent) == final["grpcExtension"].acks > 0
    for frame in sent:
        assert isinstance(frame.image, EncodedImage)
        rgb = decode(frame.image.format, frame.image.data, 1 << 20)
        assert rgb.shape == (160, 160, 3)
        assert rgb[:19].max() == 0 and rgb[141:].max() == 0  # the padding, as sent
        assert frame.source_area == (0.0, 0.125, 1.0, 0.75)  # where the source lies
        assert frame.inferences[0].classification.tag.value in ("dark", "light")
        assert frame.upstream and all(i.motion.box.w > 0 for i in frame.upstream)
    # The wire's sequence numbers (the descriptor was number 1), one per frame, in the
    # order the answers came.
    assert sorted(f.sequence for f in sent) == list(range(2, len(sent) + 2))

    # Stats: every node, the gate's state, the extension's latency.
    assert set(final) == {
        "rtspSource", "motionDetection", "grpcExtension", "hubSink", "signalGate", "fileSink",
    }  # fmt: skip
    assert final["signalGate"].state == "closed" and final["signalGate"].frames_out > 0
    assert final["grpcExtension"].latency_p50_ms is not None

    # Each recorded file once finished, with the media times it covers: the list's files.
    assert len(files) == 2  # two bursts of motion, one recording each
    assert [f for _, f in files] == [f for r in listed for f in r.files]
    for recording, file in files:
        assert recording.instance == "seen" and recording.sink == "fileSink"
        assert file.path.is_file() and file.path.parent == media
        assert file.media_start is not None and file.media_end is not None
        assert 1 <= file.media_end - file.media_start <= 2
