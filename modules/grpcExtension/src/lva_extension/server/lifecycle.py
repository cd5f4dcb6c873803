"""The gRPC server: ports, TLS, credentials, health, limits, lifecycle.

Phases: ``start`` (check the settings, bind, begin serving, health SERVING),
serving, ``drain`` (health NOT_SERVING, refuse new streams, let open streams
finish within the grace period, then cancel what is left) and ``close``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_reflection.v1alpha import reflection

from ..contract import SERVICE_NAME
from ..errors import ConfigurationError, ExtensionError
from ..metrics import NoMetrics, PrometheusMetrics
from ..models import ModelRepository, repository_room
from ..processors import LoadingRules, create_processor
from ..proto import extension_pb2_grpc
from ..settings import Settings
from ..stream.choice import ModelRequest, choose
from ..stream.limits import ByteBudget, StreamSlots
from ..stream.processes import ProcessingPool
from ..stream.resources import ServerResources
from ..telemetry import Telemetry
from . import auth, tls
from .health import NOT_SERVING, SERVING, Health
from .memory import trim_when_idle
from .service import MediaGraphExtensionService

log = logging.getLogger(__name__)


class ExtensionServer:
    """A grpc.aio server hosting the extension service on the configured binding."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port: int | None = None
        self.health = Health()
        _check_default_processor(settings)
        self._credentials = tls.server_credentials(settings)  # checks the files now
        self._interceptors = auth.interceptors(settings)  # reads the password file now
        self._metrics: NoMetrics = NoMetrics()
        self._stats_task: asyncio.Task[None] | None = None
        self._trim_task: asyncio.Task[None] | None = None
        threads = settings.processing_threads or (os.cpu_count() or 1) + 4
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix=THREAD_PREFIX)
        self._opener = ThreadPoolExecutor(4, thread_name_prefix=f"{THREAD_PREFIX}-open")
        self._slots = StreamSlots(settings.max_streams)
        self._server: grpc.aio.Server | None = None
        self._pool: ProcessingPool | None = None
        self.models: ModelRepository | None = None

    @property
    def open_streams(self) -> int:
        return self._slots.open

    @property
    def address(self) -> str:
        """Where a local client reaches this server (after start)."""
        return dataclasses.replace(self.settings.binding, port=self.port or 0).client_address

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            # Nothing started may outlive a failed start (metrics port, model threads).
            if self.models is not None:
                await self.models.close()
            self.close()
            raise

    async def _start(self) -> None:
        settings = self.settings
        if settings.metrics_port:
            self._metrics = PrometheusMetrics(settings.metrics_port, _metrics_host(settings))
        telemetry = Telemetry(self._metrics)
        if settings.model_repository:
            self.models = ModelRepository(
                repository_room(settings),
                self._executor,
                telemetry,
                load_at_start=settings.model_loading.lower() == "start",
                poll_seconds=settings.model_poll_seconds,
            )
            await self.models.start()
            _check_default_model(settings, self.models)
        if settings.processing_processes:
            self._pool = ProcessingPool(settings.processing_processes, settings.log_level.upper())
        resources = ServerResources(
            settings,
            self._executor,
            telemetry,
            self._slots,
            ByteBudget(settings.max_held_mib * 1024 * 1024),
            self._pool,
            self._opener,
            self.models,
        )
        self._server = server = grpc.aio.server(
            interceptors=self._interceptors, options=grpc_options(settings)
        )
        extension_pb2_grpc.add_MediaGraphExtensionServicer_to_server(
            MediaGraphExtensionService(resources), server
        )
        self.health.add_to(server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, "grpc.health.v1.Health", reflection.SERVICE_NAME), server
        )
        binding = settings.binding
        try:
            if self._credentials is not None:
                self.port = server.add_secure_port(binding.address, self._credentials)
            else:
                self.port = server.add_insecure_port(binding.address)
        except RuntimeError as error:
            raise ConfigurationError(
                f"grpcBinding: cannot listen on {binding.address}: {error}"
            ) from None
        await server.start()
        await self.health.set(SERVING)
        self._trim_task = asyncio.create_task(
            trim_when_idle(
                lambda: telemetry.streams_open,
                lambda: telemetry.frames + sum(telemetry.closed_by_status.values()),
            )
        )
        if settings.stats_interval_seconds:
            self._stats_task = asyncio.create_task(
                telemetry.report_every(settings.stats_interval_seconds)
            )
        where = binding.address if binding.scheme == "unix" else f"{binding.host}:{self.port}"
        log.info(
            "serving the LVA gRPC extension on %s%s (default processor %s, batch size %d%s)",
            where,
            " with TLS" if self._credentials else "",
            settings.default_processor,
            settings.batch_size,
            f", models: {', '.join(self.models.names()) or 'none'}" if self.models else "",
        )

    async def drain(self, grace: float) -> None:
        """Refuse new streams; give open ones ``grace`` seconds, then cancel them."""
        self._slots.draining = True
        await self.health.set(NOT_SERVING)
        if self._slots.open:
            log.info("draining: %d stream(s) open, %.0fs grace", self._slots.open, grace)
        try:
            await asyncio.wait_for(self._slots.wait_idle(), timeout=grace)
        except TimeoutError:
            self.cancel_streams()
        try:
            # Cancelled streams still release their mappings and log their end.
            await asyncio.wait_for(self._slots.wait_idle(), timeout=10)
        except TimeoutError:
            log.warning("%d stream(s) did not finish their clean-up", self._slots.open)
        if self._server is not None:
            await self._server.stop(0)
        if self.models is not None:
            await self.models.close()
        self.close()

    def cancel_streams(self) -> None:
        if self._slots.open:
            log.warning("cancelling %d open stream(s)", self._slots.cancel_all())

    async def stop(self, grace: float | None = None) -> None:
        await self.drain(grace or 0)

    def stuck_after_close(self, wait: float = 5.0) -> int:
        """After close: wait up to ``wait`` seconds for processing threads and processes to
        finish; terminate the processes that do not. Returns how many were stuck (the
        threads among them can only be left behind by exiting the process)."""
        deadline = time.monotonic() + wait
        threads = [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]
        for thread in threads:
            thread.join(timeout=max(deadline - time.monotonic(), 0))
        stuck = sum(thread.is_alive() for thread in threads)
        if self._pool is not None:
            stuck += self._pool.stop_stuck(max(deadline - time.monotonic(), 0))
        if stuck:
            log.warning(
                "%d processing thread(s) or process(es) did not return after the streams"
                " ended; not waiting for them",
                stuck,
            )
        return stuck

    def close(self) -> None:
        for task in (self._stats_task, self._trim_task):
            if task is not None:
                task.cancel()
        self._metrics.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._opener.shutdown(wait=False, cancel_futures=True)
        if self._pool is not None:
            self._pool.shutdown()


THREAD_PREFIX = "lva-process"
STREAM_WINDOW = 256 * 1024  # HTTP/2 bytes a stream may send ahead of what the server reads


def grpc_options(settings: Settings) -> list[tuple[str, int]]:
    """The gRPC core settings that hold the server's memory to its own limits."""
    return [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.so_reuseport", int(settings.reuse_port)),
        # The bandwidth-delay probe grows HTTP/2 windows to megabytes per stream: data
        # the transport buffers before the server asks for it, which no limit of ours
        # sees. Without it a stream's window stays at STREAM_WINDOW, and a message is
        # let in only when the stream has reserved its bytes (stream/intake.py).
        ("grpc.http2.bdp_probe", 0),
        ("grpc.http2.lookahead_bytes", STREAM_WINDOW),
        # Streams beyond maxStreams are refused anyway; this caps them per connection
        # (with room for health checks) before they cost anything.
        ("grpc.max_concurrent_streams", settings.max_streams + 4),
        # Find connections whose peer vanished (a cable pulled): their streams end.
        ("grpc.keepalive_time_ms", 60_000),
        ("grpc.keepalive_timeout_ms", 20_000),
    ]


def _check_default_processor(settings: Settings) -> None:
    """A wrong defaultProcessor should stop the start, not every stream: the processor
    is created once, with its options (an onnx model is loaded), and closed again."""
    try:
        choice = choose("", settings.default_processor)
        if isinstance(choice, ModelRequest):
            if not settings.model_repository:
                raise ConfigurationError(
                    f"defaultProcessor: asks for {choice.label}, but modelRepository is not set"
                )
            return  # checked once the repository is read
        processor = create_processor(choice, LoadingRules.of(settings, choice.name))
    except ExtensionError as error:
        raise ConfigurationError(f"defaultProcessor: {error.message}") from None
    processor.close()


def _check_default_model(settings: Settings, models: ModelRepository) -> None:
    choice = choose("", settings.default_processor)
    if isinstance(choice, ModelRequest) and choice.model not in models.names():
        raise ConfigurationError(
            f"defaultProcessor: asks for {choice.label}, which is not in the model repository"
            f" {models.directory} (it has: {', '.join(models.names()) or 'none'})"
        )


def _metrics_host(settings: Settings) -> str:
    binding = settings.binding
    return binding.host if binding.scheme == "tcp" else "0.0.0.0"


async def serve(settings: Settings) -> bool:
    """Run the server until SIGTERM or SIGINT; a second signal stops at once.

    Returns False when something is left running that only ending the process
    stops (a processor that never returned, or the second signal): the caller
    then exits without waiting for it.
    """
    server = ExtensionServer(settings)
    await server.start()
    signals = asyncio.Queue[int]()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, signals.put_nowait, signum)
    first = await signals.get()
    log.info(
        "%s: stopping (open streams get %.0fs; a second signal stops at once)",
        signal.Signals(first).name,
        settings.shutdown_grace_seconds,
    )
    draining = asyncio.create_task(server.drain(settings.shutdown_grace_seconds))
    forced = asyncio.create_task(signals.get())
    await asyncio.wait({draining, forced}, return_when=asyncio.FIRST_COMPLETED)
    if not draining.done():
        log.warning("second signal: stopping now")
        server.cancel_streams()
        server.close()
        server.stuck_after_close(wait=0)
        log.info("stopped")
        return False
    forced.cancel()
    stuck = await asyncio.to_thread(server.stuck_after_close)
    log.info("stopped")
    return stuck == 0
