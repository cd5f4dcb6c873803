"""The one seam for watching running graphs (the web view, a test, a benchmark).

A ``GraphObserver`` is told, on the simulator's event loop, and must return
at once (keep references, never copy pixels or wait; do slow work elsewhere):

- ``instance_started`` / ``instance_stopped``: an instance begins or ends a
  run; media times start again from 0 with each run;
- ``published``: every message the module publishes, inference, operational
  and diagnostic alike, exactly as written to the sink's JSON lines;
- ``frame_analyzed``: a frame a node looked at, with what it found: an
  extension node's frame as it sent it (after scaling and conversion, the
  very bytes) with the inferences that came back; a motion node's frame with
  its motion regions;
- ``node_stats``: about once a second per running instance (and once more
  when it stops), one ``NodeStats`` per node;
- ``recording_written``: a sink finished an MP4 file of a recording (it plays
  from now on), with the media times it covers.

``NullObserver`` is the default; ``Observers`` tells several. Recordings made
so far (and those found on disk at start) are listed by ``RecordingLog``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol

import numpy as np
from lva_extension.frames import FrameFormat
from lva_extension.proto.inferencing_pb2 import Inference

from .imaging import WHOLE, Area
from .recordings import RecordedFile, Recording


@dataclass(frozen=True)
class EncodedImage:
    """A frame in the bytes a node sent (raw pixels, JPG, PNG or BMP), and their format."""

    data: bytes
    format: FrameFormat


@dataclass(frozen=True)
class AnalyzedFrame:
    instance: str
    node: str
    time: Fraction  # media time, seconds
    sequence: int  # the node's own frame number (an extension's sample sequence number)
    image: np.ndarray | EncodedImage  # an ndarray: RGB (height, width, 3), read-only
    inferences: Sequence[Inference]  # what this node found
    # What the frame carried in from upstream (a motion node's regions before an
    # extension); their boxes are fractions of the source frame, which fills
    # ``source_area`` of ``image`` (less than all of it when scaled with padding).
    upstream: Sequence[Inference] = ()
    source_area: Area = WHOLE


@dataclass(frozen=True)
class NodeStats:
    instance: str
    node: str
    type: str  # the @type without #Microsoft.Media.
    frames_in: int
    frames_out: int
    fps: float  # frames out per second over the last few seconds
    latency_p50_ms: float | None  # extensions: send to answer
    latency_p99_ms: float | None
    acks: int  # extensions: answered frames
    errors: int
    state: str  # e.g. "streaming", "retrying", "open", "closed", "recording", "idle"
    last_error: str = ""
    dropped: int = 0  # frames lost because the node was behind a live camera


class GraphObserver(Protocol):
    def instance_started(self, instance: str, topology: str) -> None: ...

    def instance_stopped(self, instance: str) -> None: ...

    def published(self, message: dict[str, Any]) -> None: ...

    def frame_analyzed(self, frame: AnalyzedFrame) -> None: ...

    def node_stats(self, stats: Sequence[NodeStats]) -> None: ...

    def recording_written(self, recording: Recording, file: RecordedFile) -> None: ...


class NullObserver:
    """Nobody watches."""

    def instance_started(self, instance: str, topology: str) -> None:
        pass

    def instance_stopped(self, instance: str) -> None:
        pass

    def published(self, message: dict[str, Any]) -> None:
        pass

    def frame_analyzed(self, frame: AnalyzedFrame) -> None:
        pass

    def node_stats(self, stats: Sequence[NodeStats]) -> None:
        pass

    def recording_written(self, recording: Recording, file: RecordedFile) -> None:
        pass


class Observers:
    """Several observers told the same, in order (a web view and a benchmark, say)."""

    def __init__(self, *observers: GraphObserver) -> None:
        self.observers = observers

    def instance_started(self, instance: str, topology: str) -> None:
        for observer in self.observers:
            observer.instance_started(instance, topology)

    def instance_stopped(self, instance: str) -> None:
        for observer in self.observers:
            observer.instance_stopped(instance)

    def published(self, message: dict[str, Any]) -> None:
        for observer in self.observers:
            observer.published(message)

    def frame_analyzed(self, frame: AnalyzedFrame) -> None:
        for observer in self.observers:
            observer.frame_analyzed(frame)

    def node_stats(self, stats: Sequence[NodeStats]) -> None:
        for observer in self.observers:
            observer.node_stats(stats)

    def recording_written(self, recording: Recording, file: RecordedFile) -> None:
        for observer in self.observers:
            observer.recording_written(recording, file)


def watching(*observers: GraphObserver) -> GraphObserver:
    """One observer for these (NullObservers left out)."""
    real = [o for o in observers if not isinstance(o, NullObserver)]
    if not real:
        return NullObserver()
    return real[0] if len(real) == 1 else Observers(*real)


FPS_WINDOW = 5.0  # seconds


@dataclass
class Counters:
    """What one node counts while it runs; ``snapshot`` makes its NodeStats."""

    frames_in: int = 0
    frames_out: int = 0
    acks: int = 0
    errors: int = 0
    dropped: int = 0
    state: str = "idle"
    last_error: str = ""
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    _out_times: deque[float] = field(default_factory=lambda: deque(maxlen=1_000))

    def passed(self, count: int = 1) -> None:
        self.frames_out += count
        self._out_times.append(time.monotonic())

    def error(self, message: str) -> None:
        self.errors += 1
        self.last_error = message

    def latency_ms(self, percent: int) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, len(ordered) * percent // 100)]

    def fps(self) -> float:
        now = time.monotonic()
        recent = [t for t in self._out_times if now - t <= FPS_WINDOW]
        if len(recent) < 2:
            return 0.0
        span = max(now - recent[0], 1e-6)
        return len(recent) / span

    def snapshot(self, instance: str, node: str, kind: str) -> NodeStats:
        return NodeStats(
            instance,
            node,
            kind,
            self.frames_in,
            self.frames_out,
            round(self.fps(), 2),
            self.latency_ms(50),
            self.latency_ms(99),
            self.acks,
            self.errors,
            self.state,
            self.last_error,
            self.dropped,
        )
