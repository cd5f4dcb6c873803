"""What the server counts: per-stream figures for the close line, server-wide and
per-model figures for the periodic stats line and the metrics endpoint."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np

from .metrics import NoMetrics

log = logging.getLogger(__name__)


@dataclass
class StreamStats:
    """One stream's figures; latencies of the most recent frames for percentiles."""

    frames: int = 0
    processor_errors: int = 0
    started: float = field(default_factory=time.monotonic)
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))

    def summary(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        p50, p99 = (
            np.percentile(np.fromiter(self.latencies, float), [50, 99]) * 1000
            if self.latencies
            else (0.0, 0.0)
        )
        return (
            f"frames={self.frames} fps={self.frames / elapsed:.1f}"
            f" latency_p50={p50:.1f}ms latency_p99={p99:.1f}ms"
            f" processor_errors={self.processor_errors} duration={elapsed:.1f}s"
        )


class ModelStats:
    """One model's batches (of every stream): sizes, queue delays, inference times."""

    def __init__(self, name: str, metrics: NoMetrics) -> None:
        self.name = name
        self.metrics = metrics
        self.batches = 0
        self.frames = 0
        self._window: list[tuple[int, float, float]] = []  # since the last stats line
        self._delays: deque[float] = deque(maxlen=10_000)

    def batch_ran(self, size: int, queue_delays: list[float], seconds: float) -> None:
        """A batch of ``size`` frames ran for ``seconds``; each frame waited its queue delay."""
        self.batches += 1
        self.frames += size
        self._window.append((size, max(queue_delays, default=0.0), seconds))
        self._delays.extend(queue_delays)
        self.metrics.model_batch(self.name, size, queue_delays, seconds)

    def take_summary(self) -> str | None:
        """Figures since the last call, for the stats line; None if no batch ran."""
        window, self._window = self._window, []
        if not window:
            return None
        sizes = np.array([size for size, _, _ in window], dtype=float)
        seconds = np.array([run for _, _, run in window]) * 1000
        delays = np.fromiter(self._delays, float) * 1000
        self._delays.clear()
        return (
            f"model {self.name}: batches={len(window)} frames={int(sizes.sum())}"
            f" mean_batch={sizes.mean():.1f} max_batch={int(sizes.max())}"
            f" queue_delay_p50={np.percentile(delays, 50):.1f}ms"
            f" queue_delay_p99={np.percentile(delays, 99):.1f}ms"
            f" inference_mean={seconds.mean():.1f}ms"
        )


class Telemetry:
    """Server-wide counters, fed by every stream, shown in logs and metrics."""

    def __init__(self, metrics: NoMetrics | None = None) -> None:
        self.metrics = metrics or NoMetrics()
        self.streams_open = 0
        self.frames = 0
        self.processor_errors = 0
        self.closed_by_status: Counter[str] = Counter()
        self.models: dict[str, ModelStats] = {}

    def model(self, name: str) -> ModelStats:
        """The figures of one model of the repository (kept across its versions)."""
        if name not in self.models:
            self.models[name] = ModelStats(name, self.metrics)
        return self.models[name]

    def stream_opened(self) -> None:
        self.streams_open += 1
        self.metrics.stream_opened()

    def stream_closed(self, status: str) -> None:
        self.streams_open -= 1
        self.closed_by_status[status] += 1
        self.metrics.stream_closed(status)

    def frame_acknowledged(self, stream: StreamStats, received: float) -> None:
        latency = time.monotonic() - received
        stream.frames += 1
        stream.latencies.append(latency)
        self.frames += 1
        self.metrics.frame_acknowledged(latency)

    def processor_failed(self, frames: int) -> None:
        self.processor_errors += frames
        self.metrics.processor_failed(frames)

    async def report_every(self, interval: float) -> None:
        """Log one stats line every ``interval`` seconds while anything happens."""
        last_frames, last_time = self.frames, time.monotonic()
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            if self.frames != last_frames or self.streams_open:
                fps = (self.frames - last_frames) / (now - last_time)
                closed = ", ".join(f"{k}={v}" for k, v in sorted(self.closed_by_status.items()))
                log.info(
                    "stats: streams_open=%d frames=%d fps=%.1f processor_errors=%d closed: %s",
                    self.streams_open,
                    self.frames,
                    fps,
                    self.processor_errors,
                    closed or "none",
                )
            for stats in self.models.values():
                summary = stats.take_summary()
                if summary is not None:
                    log.info("stats: %s", summary)
            last_frames, last_time = self.frames, now
