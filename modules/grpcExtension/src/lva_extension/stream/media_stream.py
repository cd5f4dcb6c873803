"""What one open stream holds: its runner, its samples in flight, its replies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..contract import Message
from ..errors import ClientGone
from ..proto import extension_pb2
from ..telemetry import StreamStats
from .limits import ByteBudget
from .pipeline import Inferences
from .runners import BatchRunner

Write = Callable[[Message], Awaitable[None]]


class Responder:
    """Writes the server's messages: one at a time, sequence numbers 1, 2, 3, ..."""

    def __init__(self, write: Write) -> None:
        self._write = write
        self._lock = asyncio.Lock()
        self._sequence = 0
        self._writing_since: float | None = None

    async def send(self, message: Message) -> None:
        async with self._lock:
            self._sequence += 1
            message.sequence_number = self._sequence
            self._writing_since = time.monotonic()
            try:
                await self._write(message)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # grpc raises assorted internal errors here
                raise ClientGone(f"the client went away ({type(error).__name__})") from None
            finally:
                self._writing_since = None

    def blocked_for(self) -> float:
        """How long a write has waited for the client to read (0: none waiting)."""
        since = self._writing_since
        return 0.0 if since is None else time.monotonic() - since

    async def acknowledge(self, sequence: int, timestamp: int, inferences: Inferences) -> None:
        sample = extension_pb2.MediaSample(timestamp=timestamp, inferences=inferences)
        await self.send(Message(ack_sequence_number=sequence, media_sample=sample))


@dataclass
class PendingSample:
    sequence: int
    timestamp: int
    sample: extension_pb2.MediaSample | None  # None once processed: its bytes are freed
    held_bytes: int  # bytes of its message counted against the server's ByteBudget
    received: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class AckTurn:
    """A batch's place in its stream's order of acknowledgements."""

    before: asyncio.Future[None] | None  # acknowledged when this is done
    mine: asyncio.Future[None]

    async def wait(self) -> None:
        if self.before is not None:
            await self.before

    def done(self) -> None:
        if not self.mine.done():
            self.mine.set_result(None)


class MediaStream:
    """What one stream holds between its descriptor and its end."""

    def __init__(
        self, budget: ByteBudget, runner: BatchRunner, allowance: int, in_flight: int
    ) -> None:
        self.budget = budget
        self.runner = runner
        self.allowance = allowance  # bytes one sample message may hold
        self.stats = StreamStats()
        # Batches of a stateful processor run one at a time, in order.
        self.processing_slots = asyncio.Semaphore(in_flight if runner.thread_safe else 1)
        self.held_bytes = 0  # embedded bytes read and not yet acknowledged
        self._last_turn: asyncio.Future[None] | None = None

    def ack_turn(self) -> AckTurn:
        """A place in the order of acknowledgements: batches may finish out of order
        (they run side by side), their acknowledgements never do."""
        turn = AckTurn(self._last_turn, asyncio.get_running_loop().create_future())
        self._last_turn = turn.mine
        return turn

    def hold(self, sequence: int, sample: extension_pb2.MediaSample, size: int) -> PendingSample:
        """Keep a sample whose ``size`` bytes the intake counted, until it is acknowledged."""
        self.held_bytes += size
        return PendingSample(sequence, sample.timestamp, sample, size)

    def unhold(self, item: PendingSample) -> None:
        self.budget.release(item.held_bytes)
        self.held_bytes -= item.held_bytes

    async def process(self, batch: list[PendingSample]) -> list[Inferences]:
        """Decode and process a batch; when this returns, its bytes are not read again."""
        samples = [(item.sequence, item.sample) for item in batch if item.sample is not None]
        async with self.processing_slots:
            result = await self.runner.process(samples)
        for item in batch:
            item.sample = None  # the message's bytes go now, not when the ack is written
        self.stats.processor_errors += result.failed_frames
        return result.inferences

    async def close(self) -> None:
        await self.runner.close()
        # Samples read but never acknowledged (the stream broke) give their bytes back.
        self.budget.release(self.held_bytes)
        self.held_bytes = 0
