"""What the client checks of the server, as LVA would: every sample acknowledged
exactly once, gap-free server sequence numbers, timestamps echoed; and the
figures of a stream (frames, latencies)."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

from ..contract import Message
from ..proto import inferencing_pb2


@dataclass(frozen=True)
class FrameResult:
    sequence: int
    timestamp: int
    inferences: list[inferencing_pb2.Inference]
    latency: float  # seconds from sending the sample to its acknowledgement


@dataclass
class StreamSummary:
    frames_sent: int = 0
    frames_acknowledged: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    latencies: list[float] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def fps(self) -> float:
        return self.frames_acknowledged / self.duration if self.duration > 0 else 0.0

    def latency_percentile(self, percent: float) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else 0.0
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(percent) - 1]

    def describe(self) -> str:
        text = (
            f"{self.frames_acknowledged}/{self.frames_sent} frames acknowledged in"
            f" {self.duration:.2f}s ({self.fps:.1f} fps), latency p50"
            f" {self.latency_percentile(50) * 1000:.1f} ms, p99"
            f" {self.latency_percentile(99) * 1000:.1f} ms"
        )
        if self.violations:
            text += f"; {len(self.violations)} protocol violation(s): " + "; ".join(
                self.violations[:5]
            )
        return text


@dataclass
class SentSample:
    timestamp: int
    sent: float
    region: int | None


class Tracker:
    """Checks the server's messages against what was sent."""

    def __init__(self, summary: StreamSummary) -> None:
        self.summary = summary
        self.pending: dict[int, SentSample] = {}
        self.acknowledged: set[int] = set()
        self.next_server_sequence = 1

    def check_sequence(self, message: Message) -> None:
        if message.sequence_number != self.next_server_sequence:
            self.summary.violations.append(
                f"server sequence_number: expected {self.next_server_sequence},"
                f" got {message.sequence_number}"
            )
        self.next_server_sequence = message.sequence_number + 1

    def answer(self, message: Message) -> tuple[FrameResult, SentSample] | None:
        self.check_sequence(message)
        ack = message.ack_sequence_number
        sent = self.pending.pop(ack, None)
        if sent is None:
            problem = (
                "a second acknowledgement of" if ack in self.acknowledged else "an ack of unknown"
            )
            self.summary.violations.append(
                f"server message {message.sequence_number}: {problem} sample {ack}"
            )
            return None
        self.acknowledged.add(ack)
        if message.media_sample.timestamp != sent.timestamp:
            self.summary.violations.append(
                f"ack of sample {ack}: timestamp {message.media_sample.timestamp},"
                f" sample had {sent.timestamp}"
            )
        latency = time.monotonic() - sent.sent
        self.summary.frames_acknowledged += 1
        self.summary.latencies.append(latency)
        result = FrameResult(ack, sent.timestamp, list(message.media_sample.inferences), latency)
        return result, sent
