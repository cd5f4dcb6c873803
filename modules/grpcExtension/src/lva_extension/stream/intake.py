"""Reading one stream's messages so that what they hold is counted before it arrives.

gRPC buffers a message until it is complete, and while the server waits for
one, HTTP/2 flow control lets the client send all of it. A message stopped
halfway is memory the server holds but has not seen. So before each read the
stream reserves, from the server's ByteBudget, as many bytes as its next
message may hold (the largest message for the descriptor, a frame of the
declared format after it); when the message arrives the reservation becomes
what it really holds. A stream that cannot reserve does not read, and its
client is held back by flow control. A message larger than its reservation
ends the stream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

from ..contract import Message
from ..errors import DeadlineExceeded, InvalidArgument, ResourceExhausted
from .limits import ByteBudget

ENVELOPE = 64 * 1024  # what a sample message holds besides its frame (inferences, fields)


class _TooBig(ResourceExhausted):
    """A message larger than the bytes reserved for it."""

    def __init__(self, message: str, size: int, reserved: int) -> None:
        super().__init__(message)
        self.size = size
        self.reserved = reserved


class Intake:
    """One stream's messages, each counted against the byte budget before it is read."""

    def __init__(
        self, messages: AsyncIterator[Message], budget: ByteBudget, allowance: int
    ) -> None:
        self._messages = messages
        self._budget = budget
        self.allowance = allowance  # bytes reserved for the next message
        self.waiting_since: float | None = None  # reading, with nothing else to do

    async def first(self, within: float) -> tuple[Message, int] | None:
        """The first message (None if the call ends first) and the bytes it holds;
        DeadlineExceeded if it takes longer than ``within`` seconds."""
        try:
            return await asyncio.wait_for(self.next(), within)
        except _TooBig as big:
            raise InvalidArgument(
                f"the descriptor message holds {big.size} bytes; this server reads at most"
                f" {big.reserved} (an extension_configuration of up to 64 KiB)"
            ) from None
        except TimeoutError:
            raise DeadlineExceeded(
                f"no media_stream_descriptor within {within:g}s of the call's start"
                " (handshakeTimeoutSeconds)"
            ) from None

    async def next(self) -> tuple[Message, int] | None:
        """The next message and the bytes it holds (counted in the budget: give them
        back with ``budget.release``), or None when the client has finished."""
        reserved = self.allowance
        await self._budget.acquire(reserved)
        self.waiting_since = time.monotonic()
        try:
            message = await anext(self._messages, None)
        except BaseException:
            self._budget.release(reserved)
            raise
        finally:
            self.waiting_since = None
        if message is None:
            self._budget.release(reserved)
            return None
        size = held_size(message)
        if size > reserved:
            self._budget.release(reserved)
            raise _TooBig(
                f"message {message.sequence_number} holds {size} bytes, more than this stream's"
                f" {reserved} (its frame format and {ENVELOPE} bytes for the rest)",
                size,
                reserved,
            )
        self._budget.release(reserved - size)
        return message, size

    def room_now(self) -> bool:
        """Whether the next message's reservation fits in the budget without waiting."""
        return self._budget.has_room(self.allowance)

    def idle_for(self) -> float:
        """How long the stream has waited for its client's next message (0: not waiting)."""
        since = self.waiting_since
        return 0.0 if since is None else time.monotonic() - since


def held_size(message: Message) -> int:
    """The bytes a message holds, near enough, without serializing it: ByteSize()
    serializes, which for a frame costs as much as processing it."""
    if message.WhichOneof("payload") != "media_sample":
        return message.ByteSize()  # a descriptor: no frame in it
    sample = message.media_sample
    size = 64  # its fields
    if sample.HasField("content_bytes"):
        size += len(sample.content_bytes.bytes)
    return size + sum(inference.ByteSize() for inference in sample.inferences)


async def watch_idle(
    after: float, reading_for: Callable[[], float], writing_for: Callable[[], float]
) -> None:
    """Raise DeadlineExceeded once a stream has waited ``after`` seconds for its client:
    for its next message, or to read a reply (a stream busy with frames is not idle)."""
    while True:
        await asyncio.sleep(min(after / 4, 5.0))
        if reading_for() > after:
            raise DeadlineExceeded(
                f"no message for {after:g}s (idleTimeoutSeconds); reconnect to go on"
            )
        if writing_for() > after:
            raise DeadlineExceeded(f"the client read no reply for {after:g}s (idleTimeoutSeconds)")
