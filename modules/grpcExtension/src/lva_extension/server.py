"""The gRPC server: ports, message limits, the extension service, lifecycle.

Phases: ``start`` (bind, begin serving), serving, ``stop`` (stop accepting,
let open streams finish within a grace period, cancel the rest).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from concurrent.futures import ThreadPoolExecutor

import grpc

from .conversation import Conversation
from .errors import ConfigurationError, ExtensionError
from .proto import extension_pb2_grpc
from .settings import Settings

log = logging.getLogger(__name__)


class MediaGraphExtensionService(extension_pb2_grpc.MediaGraphExtensionServicer):
    """The LVA MediaGraphExtension service: one Conversation per call."""

    def __init__(self, settings: Settings, executor: ThreadPoolExecutor) -> None:
        self._settings = settings
        self._executor = executor

    async def ProcessMediaStream(
        self, request_iterator: object, context: grpc.aio.ServicerContext
    ) -> None:
        peer = context.peer()
        conversation = Conversation(self._settings, self._executor, peer)
        try:
            await conversation.run(request_iterator, context.write)  # type: ignore[arg-type]
        except ExtensionError as error:
            await context.abort(error.status, error.message)
        except Exception:
            # A bug: end only this stream, keep serving the others.
            log.exception("stream from %s failed", peer)
            await context.abort(
                grpc.StatusCode.INTERNAL, "internal error in the extension (see its log)"
            )


class ExtensionServer:
    """A grpc.aio server hosting the extension service on the configured binding."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port: int | None = None
        threads = settings.processing_threads or (os.cpu_count() or 1) + 4
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="lva-process")
        self._server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", settings.max_message_bytes),
                ("grpc.max_send_message_length", settings.max_message_bytes),
                ("grpc.so_reuseport", 0),
            ]
        )
        extension_pb2_grpc.add_MediaGraphExtensionServicer_to_server(
            MediaGraphExtensionService(settings, self._executor), self._server
        )

    @property
    def address(self) -> str:
        """Where a local client reaches this server (after start)."""
        binding = self.settings.binding
        if binding.scheme == "unix":
            return binding.address
        return binding.__class__("tcp", binding.host, self.port or 0, "").client_address

    async def start(self) -> None:
        binding = self.settings.binding
        try:
            self.port = self._server.add_insecure_port(binding.address)
        except RuntimeError as error:
            raise ConfigurationError(
                f"grpcBinding: cannot listen on {binding.address}: {error}"
            ) from None
        await self._server.start()
        log.info(
            "serving the LVA gRPC extension on %s (default processor %s, batch size %d)",
            binding.address if binding.scheme == "unix" else f"{binding.host}:{self.port}",
            self.settings.default_processor,
            self.settings.batch_size,
        )

    async def stop(self, grace: float | None = None) -> None:
        await self._server.stop(grace)
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def wait_for_termination(self) -> None:
        await self._server.wait_for_termination()


async def serve(settings: Settings) -> None:
    """Run the server until SIGTERM or SIGINT."""
    server = ExtensionServer(settings)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("stopping")
    await server.stop(grace=10)
