"""Prometheus metrics on ``metricsPort``; a null object when it is off."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class NoMetrics:
    """Metrics switched off: every call does nothing."""

    def stream_opened(self) -> None: ...
    def stream_closed(self, status: str) -> None: ...
    def frame_acknowledged(self, latency: float) -> None: ...
    def processor_failed(self, frames: int) -> None: ...
    def model_batch(
        self, model: str, size: int, queue_delays: list[float], seconds: float
    ) -> None: ...

    def close(self) -> None: ...


class PrometheusMetrics(NoMetrics):
    """Streams open, frames, latency histogram and errors by status, over HTTP."""

    def __init__(self, port: int, host: str = "0.0.0.0") -> None:
        # Imported only when metrics are on.
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
        from prometheus_client.exposition import start_http_server

        self.registry = CollectorRegistry()
        self._streams = Gauge(
            "lva_extension_streams_open", "Streams being served", registry=self.registry
        )
        self._closed = Counter(
            "lva_extension_streams_closed",
            "Streams ended, by gRPC status",
            ["status"],
            registry=self.registry,
        )
        self._frames = Counter(
            "lva_extension_frames", "Samples acknowledged", registry=self.registry
        )
        self._latency = Histogram(
            "lva_extension_frame_latency_seconds",
            "From receiving a sample to acknowledging it",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._processor_errors = Counter(
            "lva_extension_processor_errors",
            "Frames whose processor raised (acknowledged without inferences)",
            registry=self.registry,
        )
        self._batch_size = Histogram(
            "lva_extension_model_batch_size",
            "Frames per batch a model of the repository ran",
            ["model"],
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self._queue_delay = Histogram(
            "lva_extension_model_queue_delay_seconds",
            "From a frame taking its slot in a batch to the batch starting to run",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._inference = Histogram(
            "lva_extension_model_inference_seconds",
            "How long a model of the repository took to run one batch",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._http: Any
        self._http, _thread = start_http_server(port, host, registry=self.registry)
        self.port = self._http.server_address[1]
        log.info("Prometheus metrics on http://%s:%d/metrics", host, self.port)

    def stream_opened(self) -> None:
        self._streams.inc()

    def stream_closed(self, status: str) -> None:
        self._streams.dec()
        self._closed.labels(status).inc()

    def frame_acknowledged(self, latency: float) -> None:
        self._frames.inc()
        self._latency.observe(latency)

    def processor_failed(self, frames: int) -> None:
        self._processor_errors.inc(frames)

    def model_batch(self, model: str, size: int, queue_delays: list[float], seconds: float) -> None:
        self._batch_size.labels(model).observe(size)
        delay = self._queue_delay.labels(model)
        for value in queue_delays:
            delay.observe(value)
        self._inference.labels(model).observe(seconds)

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()
