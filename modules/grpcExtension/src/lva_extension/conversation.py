"""One ProcessMediaStream call: descriptor handshake, samples, acknowledgements.

The client's first message must be a MediaStreamDescriptor; it is validated
(format, transport, processor) before the server answers with its own
descriptor. Then every MediaSample is read while fewer than the in-flight
limit are being processed, grouped into batches, decoded and processed on the
thread pool, and acknowledged exactly once, after the server is done with its
bytes, in a message that carries that sample's inferences and timestamp.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

from .batching import Batcher
from .errors import ExtensionError, InvalidArgument
from .frames import FrameFormat, decode, parse_format
from .processors import Processor, create_processor, parse_configuration
from .processors.base import Frame
from .proto import extension_pb2, inferencing_pb2
from .settings import Settings
from .transports import Transport, open_transport

log = logging.getLogger(__name__)

Message = extension_pb2.MediaStreamMessage
Write = Callable[[Message], Awaitable[None]]
EXTENSION_IDENTIFIER = "lva-extension"


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
            await self._write(message)

    async def acknowledge(
        self, sequence: int, timestamp: int, inferences: Sequence[inferencing_pb2.Inference]
    ) -> None:
        sample = extension_pb2.MediaSample(timestamp=timestamp, inferences=inferences)
        await self.send(Message(ack_sequence_number=sequence, media_sample=sample))


@dataclass
class PendingSample:
    sequence: int
    sample: extension_pb2.MediaSample
    received: float = field(default_factory=time.monotonic)


@dataclass
class StreamStats:
    frames: int = 0
    processor_errors: int = 0
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_processor_errors(self, frames: int) -> bool:
        """Count failed frames (from worker threads); True for the stream's first failure."""
        with self._lock:
            first = self.processor_errors == 0
            self.processor_errors += frames
            return first

    def summary(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return (
            f"frames={self.frames} fps={self.frames / elapsed:.1f}"
            f" processor_errors={self.processor_errors} duration={elapsed:.1f}s"
        )


class MediaStream:
    """What one stream holds between its descriptor and its end."""

    def __init__(
        self,
        settings: Settings,
        fmt: FrameFormat,
        transport: Transport,
        processor: Processor,
        processor_name: str,
    ) -> None:
        self.settings = settings
        self.format = fmt
        self.transport = transport
        self.processor = processor
        self.processor_name = processor_name
        self.stats = StreamStats()
        self._warned_kept_frame = False
        # Batches of a stateful processor run one at a time, in order.
        parallel = settings.in_flight_limit if processor.thread_safe else 1
        self.processing_slots = asyncio.Semaphore(parallel)

    def close(self) -> None:
        try:
            self.processor.close()
        except Exception:
            log.exception("processor %s failed to close", self.processor_name)
        self.transport.close()

    def process_batch(
        self, batch: Sequence[PendingSample]
    ) -> list[list[inferencing_pb2.Inference]]:
        """Decode and process one batch; runs on a worker thread."""
        buffers: list[bytes | memoryview] = []
        frames: list[Frame] = []
        try:
            for item in batch:
                try:
                    data = self.transport.sample_bytes(item.sample)
                    buffers.append(data)
                    image = decode(self.format, data, self.settings.max_frame_pixels)
                except ExtensionError as error:
                    error.message = f"sample {item.sequence}: {error.message}"
                    raise
                frames.append(Frame(image, item.sample.timestamp, tuple(item.sample.inferences)))
            return self._run_processor(frames)
        finally:
            # Drop every view of the sample bytes before they are acknowledged.
            frames.clear()
            self._release(buffers)

    def _run_processor(self, frames: list[Frame]) -> list[list[inferencing_pb2.Inference]]:
        try:
            results = self.processor.process(frames)
            if len(results) != len(frames):
                raise RuntimeError(
                    f"process() returned {len(results)} results for {len(frames)} frames"
                )
            return [list(r) for r in results]
        except Exception:
            first = self.stats.count_processor_errors(len(frames))
            log.log(
                logging.ERROR if first else logging.DEBUG,
                "processor %s failed on %d frame(s); they are acknowledged without inferences"
                " (later failures of this stream are logged at DEBUG and counted)",
                self.processor_name,
                len(frames),
                exc_info=True,
            )
            return [[] for _ in frames]

    def _release(self, buffers: list[bytes | memoryview]) -> None:
        for buffer in buffers:
            if isinstance(buffer, memoryview):
                try:
                    buffer.release()
                except BufferError:
                    if not self._warned_kept_frame:
                        self._warned_kept_frame = True
                        log.warning(
                            "processor %s keeps frames past process(); copy frames you keep:"
                            " shared memory may be overwritten once a sample is acknowledged",
                            self.processor_name,
                        )


class Conversation:
    """Serves one ProcessMediaStream call."""

    def __init__(self, settings: Settings, executor: Executor, peer: str) -> None:
        self._settings = settings
        self._executor = executor
        self._peer = peer

    async def run(self, requests: AsyncIterable[Message], write: Write) -> None:
        messages = aiter(requests)
        first = await anext(messages, None)
        if first is None:
            log.info("stream from %s ended before its descriptor", self._peer)
            return
        stream = await self._open(first)
        reason = "client finished"
        try:
            responder = Responder(write)
            descriptor = extension_pb2.MediaStreamDescriptor(
                extension_identifier=EXTENSION_IDENTIFIER
            )
            await responder.send(
                Message(
                    ack_sequence_number=first.sequence_number, media_stream_descriptor=descriptor
                )
            )
            await self._serve_samples(messages, first.sequence_number + 1, stream, responder)
        except ExtensionError as error:
            reason = f"{error.status.name}: {error.message}"
            raise
        except asyncio.CancelledError:
            reason = "cancelled"
            raise
        except BaseException as error:
            reason = f"internal error: {error!r}"
            raise
        finally:
            stream.close()
            log.info(
                "stream from %s closed: %s reason=%s", self._peer, stream.stats.summary(), reason
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
        transport = open_transport(descriptor)
        try:
            # A processor may load a model: keep that off the event loop.
            processor = await asyncio.get_running_loop().run_in_executor(
                self._executor, create_processor, spec, self._settings.allow_processor_paths
            )
        except BaseException:
            transport.close()
            raise
        log.info(
            "stream from %s opened: graph=%s format=%s transfer=%s processor=%s",
            self._peer,
            _graph_name(descriptor),
            fmt.describe(),
            transport.kind,
            spec.name,
        )
        return MediaStream(self._settings, fmt, transport, processor, spec.name)

    async def _serve_samples(
        self,
        messages: AsyncIterable[Message],
        next_sequence: int,
        stream: MediaStream,
        responder: Responder,
    ) -> None:
        window = asyncio.Semaphore(self._settings.in_flight_limit)
        try:
            async with asyncio.TaskGroup() as tasks:
                batcher: Batcher[PendingSample] = Batcher(
                    self._settings.batch_size,
                    self._settings.batch_timeout_ms / 1000,
                    lambda batch: tasks.create_task(
                        self._process(batch, stream, responder, window)
                    ),
                )
                try:
                    async for message in messages:
                        sample = _checked_sample(message, next_sequence)
                        next_sequence += 1
                        await window.acquire()  # backpressure: read no further
                        pending = PendingSample(message.sequence_number, sample)
                        if sample.WhichOneof("content") is None:
                            tasks.create_task(
                                self._acknowledge([pending], [[]], stream, responder, window)
                            )
                        else:
                            batcher.add(pending)
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
        async with stream.processing_slots:
            results = await asyncio.get_running_loop().run_in_executor(
                self._executor, stream.process_batch, batch
            )
        await self._acknowledge(batch, results, stream, responder, window)

    async def _acknowledge(
        self,
        batch: list[PendingSample],
        results: list[list[inferencing_pb2.Inference]],
        stream: MediaStream,
        responder: Responder,
        window: asyncio.Semaphore,
    ) -> None:
        for item, inferences in zip(batch, results, strict=True):
            await responder.acknowledge(item.sequence, item.sample.timestamp, inferences)
            stream.stats.frames += 1
            window.release()
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "acknowledged sample %d of %s: %d inference(s) in %.1f ms",
                    item.sequence,
                    self._peer,
                    len(inferences),
                    (time.monotonic() - item.received) * 1000,
                )


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
