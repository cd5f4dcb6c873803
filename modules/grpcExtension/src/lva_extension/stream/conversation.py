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
import contextlib
import logging
import time
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Any

import grpc

from ..contract import EXTENSION_IDENTIFIER, Message
from ..errors import (
    ClientGone,
    DeadlineExceeded,
    ExtensionError,
    InvalidArgument,
    ResourceExhausted,
    Unavailable,
    shorten,
)
from ..frames import FrameFormat, parse_format
from ..proto import extension_pb2
from ..transports import SharedMemoryTransport, transfer_kind
from .batching import Batcher
from .choice import ModelRequest, choose
from .intake import ENVELOPE, Intake, watch_idle
from .media_stream import AckTurn, MediaStream, PendingSample, Responder, Write
from .opening import open_runner
from .pipeline import Inferences
from .resources import ServerResources

log = logging.getLogger(__name__)

MAX_CONFIGURATION = 64 * 1024  # characters of extension_configuration read
DESCRIPTOR_ALLOWANCE = MAX_CONFIGURATION + ENVELOPE  # bytes a descriptor message may hold
DROP_CHECKS = 13  # three turns of the loop, then 10 ms apart: at most 100 ms


class Conversation:
    """Serves one ProcessMediaStream call."""

    def __init__(
        self,
        resources: ServerResources,
        peer: str,
        cancelled: Callable[[], bool] = lambda: False,
        when_done: Callable[[Any], None] | None = None,  # context.add_done_callback
    ) -> None:
        self._resources = resources
        self._cancelled = cancelled
        self._when_done = when_done
        self._settings = resources.settings
        self._telemetry = resources.telemetry
        self._peer = peer

    async def handle(self, requests: AsyncIterable[Message], write: Write) -> None:
        resources = self._resources
        first_allowance = min(DESCRIPTOR_ALLOWANCE, resources.budget.limit)
        intake = Intake(aiter(requests), resources.budget, first_allowance)
        refusal = resources.slots.refusal()
        if refusal is not None:
            await self._take_first_message(intake)
            self._refused(refusal)
            raise refusal
        with resources.slots.claim():  # the descriptor is read inside the stream's slot
            try:
                first = await intake.first(within=self._settings.handshake_timeout_seconds)
                if first is None:
                    log.info("stream from %s ended before its descriptor", self._peer)
                    return
                message, size = first
                try:
                    stream = await self._open(message)
                finally:
                    resources.budget.release(size)
            except ExtensionError as error:
                self._refused(error)
                raise
            intake.allowance = stream.allowance
            await self._serve(stream, message.sequence_number, intake, Responder(write))

    def _refused(self, error: ExtensionError) -> None:
        level = (
            logging.WARNING if isinstance(error, ResourceExhausted | Unavailable) else logging.INFO
        )
        reason = (
            f"timed out: {error.message}" if isinstance(error, DeadlineExceeded) else error.message
        )
        log.log(
            level,
            "stream from %s refused: status=%s reason=%s",
            self._peer,
            error.status.name,
            reason,
        )

    async def _take_first_message(self, intake: Intake) -> None:
        # Read the first message even to refuse the stream (a status sent while it
        # is on its way can reach the client as INTERNAL instead), but only briefly
        # and only if the budget has room for it at once.
        if not intake.room_now():
            return
        with contextlib.suppress(Exception):
            first = await intake.first(within=0.5)
            if first is not None:
                self._resources.budget.release(first[1])

    async def _serve(
        self,
        stream: MediaStream,
        descriptor_sequence: int,
        intake: Intake,
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
            await self._serve_samples(intake, descriptor_sequence + 1, stream, responder)
        except ClientGone:
            status, reason = grpc.StatusCode.CANCELLED, "connection dropped"
            raise
        except DeadlineExceeded as error:
            status, reason = error.status, f"timed out: {error.message}"
            raise
        except ExtensionError as error:
            status, reason = error.status, error.message
            raise
        except asyncio.CancelledError:
            status = grpc.StatusCode.CANCELLED
            reason = (
                "shutdown: the grace period ended"
                if self._resources.slots.draining
                else "connection dropped"
            )
            raise
        except BaseException as error:
            status, reason = grpc.StatusCode.INTERNAL, f"internal error: {error!r}"
            raise
        finally:
            try:
                await _uncancellable(stream.close())
            finally:
                self._telemetry.processor_failed(stream.stats.processor_errors)
                if status == grpc.StatusCode.OK and self._when_done is not None:
                    # The requests end alike whether the client half-closed or its
                    # connection dropped; the call, once over, knows which.
                    self._when_done(lambda _: self._closed(stream, status, reason))
                else:
                    self._closed(stream, status, reason)

    def _closed(self, stream: MediaStream, status: grpc.StatusCode, reason: str) -> None:
        if status == grpc.StatusCode.OK and self._cancelled():
            status, reason = grpc.StatusCode.CANCELLED, "connection dropped"
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
        allowance = self._allowance(descriptor, fmt)
        configuration = descriptor.extension_configuration
        if len(configuration) > MAX_CONFIGURATION:
            raise InvalidArgument(
                f"extension_configuration: {len(configuration)} characters;"
                f" this server reads at most {MAX_CONFIGURATION}"
            )
        choice = choose(configuration, self._settings.default_processor)
        runner = await open_runner(self._resources, descriptor, choice, fmt)
        log.info(
            "stream from %s opened: graph=%s format=%s transfer=%s processor=%s",
            self._peer,
            shorten(_graph_name(descriptor)),
            fmt.describe(),
            transfer_kind(descriptor),
            shorten(choice.label if isinstance(choice, ModelRequest) else choice.name),
        )
        return MediaStream(
            self._resources.budget, runner, allowance, self._settings.in_flight_limit
        )

    def _allowance(self, descriptor: extension_pb2.MediaStreamDescriptor, fmt: FrameFormat) -> int:
        """The bytes one sample message of this stream may hold (reserved before each read)."""
        budget = self._resources.budget
        if transfer_kind(descriptor) == SharedMemoryTransport.kind:
            frame = 0  # references; inferences fit the envelope
        elif fmt.is_raw:
            frame = max(most for _, most in fmt.sample_sizes)
        elif fmt.width and fmt.height:
            frame = fmt.width * fmt.height * 3  # an encoded image is smaller than its pixels
        else:
            return min(self._settings.max_message_bytes, budget.limit)
        allowance = frame + ENVELOPE
        if allowance > budget.limit:
            raise ResourceExhausted(
                f"frames of {fmt.describe()} need up to {allowance} bytes a message; this server"
                f" holds at most {budget.limit} for all streams (maxHeldMiB)"
            )
        return allowance

    async def _serve_samples(
        self,
        intake: Intake,
        next_sequence: int,
        stream: MediaStream,
        responder: Responder,
    ) -> None:
        window = asyncio.Semaphore(self._settings.in_flight_limit)
        try:
            async with asyncio.TaskGroup() as tasks:

                def dispatch(batch: list[PendingSample]) -> None:
                    turn = stream.ack_turn()
                    tasks.create_task(self._process(batch, stream, responder, window, turn))

                batcher = Batcher(
                    self._settings.batch_size, self._settings.batch_timeout_ms / 1000, dispatch
                )
                idle = self._settings.idle_timeout_seconds
                watchdog = None
                if idle:
                    watching = watch_idle(idle, intake.idle_for, responder.blocked_for)
                    watchdog = tasks.create_task(watching)
                try:
                    while True:
                        await window.acquire()  # backpressure: read no further
                        read = await intake.next()
                        if read is None:
                            window.release()
                            break
                        message, size = read
                        try:
                            sample = _checked_sample(message, next_sequence)
                        except BaseException:
                            self._resources.budget.release(size)
                            raise
                        next_sequence += 1
                        pending = stream.hold(message.sequence_number, sample, size)
                        if sample.WhichOneof("content") is None:  # inferences only: no frame
                            batcher.flush()  # the frames before it are acknowledged first
                            turn = stream.ack_turn()
                            tasks.create_task(
                                self._acknowledge([pending], [[]], stream, responder, window, turn)
                            )
                        else:
                            batcher.add(pending)
                    batcher.flush()  # processed while we look at the call
                    if await self._dropped():  # the requests ended because the call did
                        raise ClientGone("the connection dropped")
                finally:
                    batcher.close()
                    if watchdog is not None:
                        watchdog.cancel()
        except ExceptionGroup as group:
            raise _first_error(group) from None

    async def _dropped(self) -> bool:
        # The requests end alike whether the client half-closed or its connection
        # dropped; gRPC marks the call cancelled a moment later in the second case
        # (usually within a turn of the loop). The call's done callback looks again.
        for turn in range(DROP_CHECKS):
            if self._cancelled():
                return True
            await asyncio.sleep(0 if turn < 3 else 0.01)
        return False

    async def _process(
        self,
        batch: list[PendingSample],
        stream: MediaStream,
        responder: Responder,
        window: asyncio.Semaphore,
        turn: AckTurn,
    ) -> None:
        try:
            results = await stream.process(batch)
        except BaseException:
            turn.done()
            raise
        await self._acknowledge(batch, results, stream, responder, window, turn)

    async def _acknowledge(
        self,
        batch: list[PendingSample],
        results: list[Inferences],
        stream: MediaStream,
        responder: Responder,
        window: asyncio.Semaphore,
        turn: AckTurn,
    ) -> None:
        try:
            await turn.wait()
            await self._acknowledge_in_turn(batch, results, stream, responder, window)
        finally:
            turn.done()

    async def _acknowledge_in_turn(
        self,
        batch: list[PendingSample],
        results: list[Inferences],
        stream: MediaStream,
        responder: Responder,
        window: asyncio.Semaphore,
    ) -> None:
        for item, inferences in zip(batch, results, strict=True):
            stream.unhold(item)
            await responder.acknowledge(item.sequence, item.timestamp, inferences)
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
