"""What a running graph tells whoever watches it (the web view): the observer seam.

The graph calls a :class:`GraphObserver` from its event loop, and every call
must return at once: an observer keeps references, never waits and never
copies pixels, so watching cannot slow the graph. :class:`NullObserver` is the
observer when nobody watches.

- ``instance_started`` / ``instance_stopped``: a graph instance begins or ends
  running; ``stats`` is called by the observer when it wants numbers (pull,
  so an unwatched graph counts nothing extra).
- ``frame_analyzed``: a node looked at a frame and found these inferences
  (an extension node: the frame as it sent it, after scaling and conversion;
  a motion node: the frame and its motion regions).
- ``event_published``: a message left the module (inference, operational or
  diagnostic event), exactly as a sink wrote it.
- ``recording_written``: a sink wrote (or grew) an MP4 file.

Times: ``timestamp``, ``media_start`` and ``media_end`` are on the graph's
media timeline in 90 kHz units, the timeline of inference events, so a
recording's inferences are those of its instance between its start and end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from lva_extension.frames import FrameFormat
from lva_extension.proto.inferencing_pb2 import Inference


@dataclass(frozen=True)
class EncodedPicture:
    """A frame in the bytes a node sent (raw pixels, JPG, PNG or BMP) and their format."""

    data: bytes
    format: FrameFormat


Picture = np.ndarray | EncodedPicture  # an ndarray: RGB, (height, width, 3), uint8


@dataclass(frozen=True)
class AnalyzedFrame:
    instance: str
    node: str
    sequence: int  # the frame's number in the node's stream (an extension's sample sequence)
    timestamp: int  # media time, 90 kHz
    picture: Picture
    inferences: Sequence[Inference]


@dataclass(frozen=True)
class NodeSnapshot:
    """One node's counters since the instance started."""

    node: str
    kind: str  # the node's @type without "#Microsoft.Media.", e.g. MediaGraphGrpcExtension
    frames_in: int = 0
    frames_out: int = 0
    dropped: int = 0  # frames the node lost because it was behind
    acks: int | None = None  # extension nodes: samples acknowledged
    errors: int = 0
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    state: str = ""  # e.g. a signal gate's "open" / "closed", an extension's "retrying"
    detail: str = ""  # e.g. the last error


SnapshotSource = Callable[[], Sequence[NodeSnapshot]]


@dataclass(frozen=True)
class Recording:
    instance: str
    node: str  # the sink that wrote it
    path: Path  # an MP4 file
    media_start: int  # 90 kHz, on the media timeline of the instance's inference events
    media_end: int | None = None  # None: still being written
    kind: str = "file"  # "file" (file sink) or "asset" (asset sink)
    name: str = ""  # the asset or file name to show; default: the file's name


class GraphObserver(Protocol):
    def instance_started(self, instance: str, topology: str, stats: SnapshotSource) -> None: ...

    def instance_stopped(self, instance: str) -> None: ...

    def frame_analyzed(self, frame: AnalyzedFrame) -> None: ...

    def event_published(self, instance: str, message: Mapping[str, Any]) -> None: ...

    def recording_written(self, recording: Recording) -> None: ...


class NullObserver:
    """Nobody watches."""

    def instance_started(self, instance: str, topology: str, stats: SnapshotSource) -> None:
        pass

    def instance_stopped(self, instance: str) -> None:
        pass

    def frame_analyzed(self, frame: AnalyzedFrame) -> None:
        pass

    def event_published(self, instance: str, message: Mapping[str, Any]) -> None:
        pass

    def recording_written(self, recording: Recording) -> None:
        pass
