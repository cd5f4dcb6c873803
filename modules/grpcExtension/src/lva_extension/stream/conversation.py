"""One ProcessMediaStream call: descriptor handshake, samples, acknowledgements.

The client's first message must be a MediaStreamDescriptor; it is validated
(format, transport, processor) before the server answers with its own
descriptor. Then every MediaSample is read while fewer than the in-flight
limit are being processed, grouped into batches, decoded and processed (see
runners.py for where), and acknowledged exactly once, after the server is done with its
bytes, in a message that carries that sample's inferences and timestamp.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

import grpc

from ..contract import EXTENSION_IDENTIFIER, Message
from ..errors import ClientGone, ExtensionError, InvalidArgument
from ..frames import FrameFormat, parse_format
from ..processors import LoadingRules, ProcessorSpec, create_processor, parse_configuration
from ..proto import extension_pb2
from ..settings import Settings
from ..telemetry import StreamStats, Telemetry
from ..transports import SharedMemoryLimits, open_transport, transfer_kind
from .batching import Batcher
from .limits import ByteBudget, StreamSlots
from .pipeline import FramePipeline, Inferences
from .processes import ProcessingPool
from .runners import BatchRunner, LocalRunner

log = logging.getLogger(__name__)

Write = Callable[[Message], Awaitable[None]]


@dataclass
class ServerResources:
    """What every conversation of one server shares."""

    settings: Settings
    executor: Executor
    telemetry: Telemetry
    slots: StreamSlots
    budget: ByteBudget
    pool: ProcessingPool | None = None  # processingProcesses
    rules: LoadingRules = field(init=False)  # which processors streams may load
    shm_limits: SharedMemoryLimits = field(init=False)

    def __post_init__(self) -> None:
        settings = self.settings
        self.rules = LoadingRules.of(
            settings, parse_configuration("", settings.default_processor).name
        )
        self.shm_limits = SharedMemoryLimits(
            settings.max_shared_memory_mib * (1 << 20), settings.shared_memory_copy
        )


class Responder:
    """Writes the server's messages: one at a time, sequence numbers 1, 2, 3, ..."""

    def __init__(self, write: Write) -> None:
        self._write = write
        self._lock = asyncio.Lock()
        self._sequence = 0

    async def send(self, message: Message) -> None:
        async with self._lock:
            self._sequence += 1
            message.sequence_number = self._sequence
            try:
                await self._write(message)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # grpc raises assorted internal errors here
                raise ClientGone(f"the client went away ({type(error).__name__})") from None

    async def acknowledge(self, sequence: int, timestamp: int, inferences: Inferences) -> None:
        sample = extension_pb2.MediaSample(timestamp=timestamp, inferences=inferences)
        await self.send(Message(ack_sequence_number=sequence, media_sample=sample))


@dataclass
class PendingSample:
    sequence: int
    sample: extension_pb2.MediaSample
    held_bytes: int  # embedded bytes counted against the server's ByteBudget
    received: float = field(default_factory=time.monotonic)


class MediaStream:
    """What one stream holds between its descriptor and its end."""

    def __init__(self, resources: ServerResources, runner: BatchRunner) -> None:
        self.resources = resources
        self.runner = runner
        self.stats = StreamStats()
        # Batches of a stateful processor run one at a time, in order.
        parallel = resources.settings.in_flight_limit if runner.thread_safe else 1
        self.processing_slots = asyncio.Semaphore(parallel)
        self.held_bytes = 0  # embedded bytes read and not yet acknowledged

    async def hold(self, sequence: int, sample: extension_pb2.MediaSample) -> PendingSample:
        """Count a sample's embedded bytes against the server's budget (may wait)."""
        size = len(sample.content_bytes.bytes) if sample.HasField("content_bytes") else 0
        await self.resources.budget.acquire(size)
        self.held_bytes += size
        return PendingSample(sequence, sample, size)

    def unhold(self, item: PendingSample) -> None:
        self.resources.budget.release(item.held_bytes)
        self.held_bytes -= item.held_bytes

    async def process(self, batch: list[PendingSample]) -> list[Inferences]:
        """Decode and process a batch; when this returns, its bytes are not read again."""
        async with self.processing_slots:
            result = await self.runner.process([(item.sequence, item.sample) for item in batch])
        self.stats.processor_errors += result.failed_frames
        return result.inferences

    async def close(self) -> None:
        await self.runner.close()
        # Samples read but never acknowledged (the stream broke) give their bytes back.
        self.resources.budget.release(self.held_bytes)
        self.held_bytes = 0


class Conversation:
    """Serves one ProcessMediaStream call."""

    def __init__(
        self,
        resources: ServerResources,
        peer: str,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> None:
        self._resources = resources
        self._cancelled = cancelled
        self._settings = resources.settings
        self._telemetry = resources.telemetry
        self._peer = peer

    async def handle(self, requests: AsyncIterable[Message], write: Write) -> None:
        messages = aiter(requests)
        # Read the first message even to refuse the stream: a status sent while it
        # is on its way can reach the client as INTERNAL instead.
        first = await anext(messages, None)
        if first is None:
            log.info("stream from %s ended before its descriptor", self._peer)
            return
        with self._resources.slots.claim():
            stream = await self._open(first)
            await self._serve(stream, first.sequence_number, messages, Responder(write))

    async def _serve(
        self,
        stream: MediaStream,
        descriptor_sequence: int,
        messages: AsyncIterator[Message],
        responder: Responder,
    ) -> None:
        self._telemetry.stream_opened()
        status, reason = grpc.StatusCode.OK, "client finished"
        try:
            descriptor = extension_pb2.MediaStreamDescriptor(
                extension_identifier=EXTENSION_IDENTIFIER
            )
            await responder.send(
                Message(ack_sequence_number=descriptor_sequence, media_stream_descriptor=descriptor)
            )
            await self._serve_samples(messages, descriptor_sequence + 1, stream, responder)
        except ExtensionError as error:
            status, reason = error.status, error.message
            raise
        except asyncio.CancelledError:
            status, reason = grpc.StatusCode.CANCELLED, "cancelled (client went away or shutdown)"
            raise
        except BaseException as error:
            status, reason = grpc.StatusCode.INTERNAL, f"internal error: {error!r}"
            raise
        finally:
            try:
                await _uncancellable(stream.close())
            finally:
                self._telemetry.processor_failed(stream.stats.processor_errors)
                self._telemetry.stream_closed(status.name)
                log.info(
                    "stream from %s closed: %s status=%s reason=%s",
                    self._peer,
                    stream.stats.summary(),
                    status.name,
                    reason,
                )

    async def _open(self, first: Message) -> MediaStream:
        if first.WhichOneof("payload") != "media_stream_descriptor":
            raise InvalidArgument(
                "the first message must carry a media_stream_descriptor,"
                f" got {first.WhichOneof('payload') or 'an empty message'}"
            )
        if first.sequence_number != 1:
            raise InvalidArgument(
                f"sequence_number: the descriptor must be message 1, got {first.sequence_number}"
            )
        descriptor = first.media_stream_descriptor
        fmt = parse_format(descriptor.media_descriptor, self._settings.max_frame_pixels)
        spec = parse_configuration(
            descriptor.extension_configuration, self._settings.default_processor
        )
        runner = await self._runner(descriptor, spec, fmt)
        log.info(
            "stream from %s opened: graph=%s format=%s transfer=%s processor=%s",
            self._peer,
            _graph_name(descriptor),
            fmt.describe(),
            transfer_kind(descriptor),
            spec.name,
        )
        return MediaStream(self._resources, runner)

    async def _runner(
        self,
        descriptor: extension_pb2.MediaStreamDescriptor,
        spec: ProcessorSpec,
        fmt: FrameFormat,
    ) -> BatchRunner:
        settings = self._settings
        if self._resources.pool is not None:
            return await self._resources.pool.open(
                descriptor,
                spec,
                fmt,
                self._resources.rules,
                self._resources.shm_limits,
                settings.max_frame_pixels,
            )
        transport = open_transport(descriptor, self._resources.shm_limits)
        try:
            # A processor may load a model: keep that off the event loop.
            processor = await asyncio.get_running_loop().run_in_executor(
                self._resources.executor, create_processor, spec, self._resources.rules
            )
        except BaseException:
            transport.close()
            raise
        pipeline = FramePipeline(transport, fmt, processor, spec.name, settings.max_frame_pixels)
        return LocalRunner(pipeline, self._resources.executor, settings.inline_processing_ms / 1000)

    async def _serve_samples(
        self,
        messages: AsyncIterator[Message],
        next_sequence: int,
        stream: MediaStream,
        responder: Responder,
    ) -> None:
        window = asyncio.Semaphore(self._settings.in_flight_limit)
        try:
            async with asyncio.TaskGroup() as tasks:

                def dispatch(batch: list[PendingSample]) -> None:
                    tasks.create_task(self._process(batch, stream, responder, window))

                batcher = Batcher(
                    self._settings.batch_size, self._settings.batch_timeout_ms / 1000, dispatch
                )
                try:
                    async for message in messages:
                        sample = _checked_sample(message, next_sequence)
                        next_sequence += 1
                        await window.acquire()  # backpressure: read no further
                        pending = await stream.hold(message.sequence_number, sample)
                        if sample.WhichOneof("content") is None:  # inferences only: no frame
                            ack = self._acknowledge([pending], [[]], stream, responder, window)
                            tasks.create_task(ack)
                        else:
                            batcher.add(pending)
                    if self._cancelled():  # the requests ended because the call did
                        raise asyncio.CancelledError
                    batcher.flush()
                finally:
                    batcher.close()
        except ExceptionGroup as group:
            raise _first_error(group) from None

    async def _process(
        self,
        batch: list[PendingSample],
        stream: MediaStream,
        responder: Responder,
        window: asyncio.Semaphore,
    ) -> None:
        results = await stream.process(batch)
        await self._acknowledge(batch, results, stream, responder, window)

    async def _acknowledge(
        self,
        batch: list[PendingSample],
        results: list[Inferences],
        stream: MediaStream,
        responder: Responder,
        window: asyncio.Semaphore,
    ) -> None:
        for item, inferences in zip(batch, results, strict=True):
            stream.unhold(item)
            await responder.acknowledge(item.sequence, item.sample.timestamp, inferences)
            self._telemetry.frame_acknowledged(stream.stats, item.received)
            window.release()
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "acknowledged sample %d of %s: %d inference(s) in %.1f ms",
                    item.sequence,
                    self._peer,
                    len(inferences),
                    (time.monotonic() - item.received) * 1000,
                )


async def _uncancellable(work: Awaitable[None]) -> None:
    """Finish clean-up even when the task running it is being cancelled."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


def _checked_sample(message: Message, expected_sequence: int) -> extension_pb2.MediaSample:
    if message.sequence_number != expected_sequence:
        raise InvalidArgument(
            f"sequence_number: expected {expected_sequence}, got {message.sequence_number}"
            " (client sequence numbers grow by 1 per message)"
        )
    if message.WhichOneof("payload") != "media_sample":
        raise InvalidArgument(
            f"message {message.sequence_number}: expected a media_sample after the descriptor,"
            f" got {message.WhichOneof('payload') or 'an empty message'}"
        )
    return message.media_sample


def _first_error(group: BaseExceptionGroup) -> BaseException:
    """The error that ends the call: the first expected one, else the first bug."""
    errors = list(_leaves(group))
    for error in errors:
        if isinstance(error, ExtensionError):
            return error
    return errors[0]


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    leaves: list[BaseException] = []
    for error in group.exceptions:
        leaves.extend(_leaves(error) if isinstance(error, BaseExceptionGroup) else [error])
    return leaves


def _graph_name(descriptor: extension_pb2.MediaStreamDescriptor) -> str:
    if descriptor.WhichOneof("stream_identifier") == "graph_identifier":
        graph = descriptor.graph_identifier
        return f"{graph.graph_instance_name}/{graph.graph_node_name}"
    return descriptor.extension_identifier or "-"
