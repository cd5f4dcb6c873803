"""The one seam for watching running graphs (a live view, a test, a benchmark).

A ``GraphObserver`` is told three things, all on the simulator's event loop,
and must return quickly (copy what it keeps; do slow work elsewhere):

- ``published``: every message the module publishes, inference, operational
  and diagnostic alike, exactly as written to the sink's JSON lines;
- ``frame_sent``: every frame an extension node sent, as sent (after scaling
  and conversion, before encoding), with the inferences that came back;
- ``node_stats``: about once a second per running instance, one ``NodeStats``
  per node (frames in and out, rate, latency, acks, errors, state).

``NullObserver`` is the default. Recordings are listed by
``RecordingLog.list()`` (graph/recordings.py), not pushed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol

import numpy as np
from lva_extension.proto.inferencing_pb2 import Inference


@dataclass(frozen=True)
class SentFrame:
    instance: str
    node: str
    time: Fraction  # media time
    image: np.ndarray  # RGB as the extension received it (scaled); read-only
    encoding: str  # raw, jpg, png or bmp (for raw: pixel_format)
    pixel_format: str
    inferences: Sequence[Inference]


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
    state: str  # e.g. "connected", "reconnecting", "open", "closed", "recording", "idle"
    last_error: str = ""


class GraphObserver(Protocol):
    def published(self, message: dict[str, Any]) -> None: ...

    def frame_sent(self, frame: SentFrame) -> None: ...

    def node_stats(self, stats: Sequence[NodeStats]) -> None: ...


class NullObserver:
    def published(self, message: dict[str, Any]) -> None:
        pass

    def frame_sent(self, frame: SentFrame) -> None:
        pass

    def node_stats(self, stats: Sequence[NodeStats]) -> None:
        pass


FPS_WINDOW = 5.0  # seconds


@dataclass
class Counters:
    """What one node counts while it runs; ``snapshot`` makes its NodeStats."""

    frames_in: int = 0
    frames_out: int = 0
    acks: int = 0
    errors: int = 0
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
        )
