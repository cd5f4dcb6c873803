"""The dynamic batcher: frames of many streams gathered into one model's batches.

A stream reserves a slot for each of its frames (in its order), fills the
slots on a thread (its frames are read and fitted straight into the batch's
preallocated input tensor, and their bytes let go), and awaits each frame's
result. A batch goes to a free session when it holds ``maxBatchSize`` frames,
or the largest preferred size, or ``maxQueueDelayMs`` after its first frame,
whichever comes first; while every session is busy it keeps growing up to
``maxBatchSize`` (so a loaded model runs larger batches). A batch runs in one
part per session, as sessions free up. It runs once, and
each frame's inferences go back to the stream that reserved it. Everything
here runs on the event loop but the fill (the stream's business) and the model
run with its decoding (the model's threads).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..frames.resize import Placement
from ..processors.onnx.decoders import Decoder
from ..processors.onnx.fitting import Fitter
from ..proto.inferencing_pb2 import Inference
from ..telemetry import ModelStats
from .version import ModelVersion, Ran, batch_target

log = logging.getLogger(__name__)

Inferences = list[Inference]
Outcome = tuple[Inferences, bool]  # a frame's inferences, and whether the model failed on it


@dataclass(eq=False)
class Slot:
    """One frame's place in a batch."""

    batch: PendingBatch
    index: int
    decoder: Decoder
    future: asyncio.Future[Outcome]
    reserved: float = field(default_factory=time.monotonic)
    placement: Placement | None = None
    abandoned: bool = False  # its frame was never fitted (the stream failed or left)

    @property
    def tensor(self) -> np.ndarray:
        return self.batch.tensor[self.index]

    @property
    def fitter(self) -> Fitter:
        return self.batch.version.fitter


@dataclass(eq=False)
class PendingBatch:
    version: ModelVersion
    tensor: np.ndarray
    capacity: int
    target: int
    slots: list[Slot] = field(default_factory=list)
    filling: int = 0  # slots reserved and not yet filled
    due: bool = False  # its queue delay has passed
    dispatched: bool = False  # it goes: no more slots
    timer: asyncio.TimerHandle | None = None
    parts: list[tuple[int, int]] = field(default_factory=list)  # slot ranges not started yet
    unfinished: int = 0  # its parts not finished yet


class Reservation:
    """Slots a stream reserved for a batch of its frames, in its order."""

    def __init__(self, batcher: ModelBatcher, slots: list[Slot]) -> None:
        self.slots = slots
        self._batcher = batcher

    def filling(self, work: asyncio.Future[list[Placement]]) -> None:
        """``work`` fills the slots (on a thread); when it is done, they may run."""
        work.add_done_callback(
            lambda done: self.filled(
                None if done.cancelled() or done.exception() else done.result()
            )
        )

    def filled(self, placements: list[Placement] | None) -> None:
        """The slots are filled (``placements``: where each frame landed), or never
        will be (None): either way their batches may run."""
        for index, slot in enumerate(self.slots):
            if placements is None:
                slot.abandoned = True
            else:
                slot.placement = placements[index]
            self._batcher.filled(slot.batch)

    async def results(self) -> list[Outcome]:
        return list(await asyncio.gather(*(slot.future for slot in self.slots)))


class ModelBatcher:
    """Gathers frames into batches of one model and runs them."""

    def __init__(
        self,
        current: Callable[[], ModelVersion],
        stats: ModelStats,
        capacity: int | None = None,
    ) -> None:
        self._current = current  # the model's version for new frames
        self._stats = stats
        self._capacity = capacity  # None: the model's maxBatchSize
        self._queue: deque[PendingBatch] = deque()  # oldest first; only the last takes frames
        self._running = 0
        self._reserving = asyncio.Lock()  # fair: frames get their slots in arrival order
        self._room = asyncio.Event()
        self._spare: list[np.ndarray] = []  # input tensors of the current version, reused
        self._spare_version: ModelVersion | None = None
        self._failures = 0

    async def reserve(
        self, count: int, decoder_for: Callable[[ModelVersion], Decoder]
    ) -> Reservation:
        """Slots for ``count`` frames; may wait while the model is too far behind."""
        slots: list[Slot] = []
        try:
            async with self._reserving:
                for _ in range(count):
                    batch = await self._forming_batch()
                    slot = Slot(
                        batch,
                        len(batch.slots),
                        decoder_for(batch.version),
                        asyncio.get_running_loop().create_future(),
                    )
                    batch.slots.append(slot)
                    batch.filling += 1
                    slots.append(slot)
                    if len(batch.slots) == 1:
                        self._start_clock(batch)
        except BaseException:
            for slot in slots:
                slot.abandoned = True
                self.filled(slot.batch)
            raise
        self._pump()
        return Reservation(self, slots)

    def filled(self, batch: PendingBatch) -> None:
        batch.filling -= 1
        self._pump()

    # --- forming batches -----------------------------------------------------------

    async def _forming_batch(self) -> PendingBatch:
        while True:
            version = self._current()
            last = self._queue[-1] if self._queue else None
            if last is not None and not last.dispatched:
                if last.version is version and len(last.slots) < last.capacity:
                    return last
                if last.version is not version:
                    last.due = True  # a new version: the old one's last batch goes now
            # Room for the batch that runs, one queued behind it and one forming.
            if len(self._queue) < version.instances + 2:
                batch = self._new_batch(version)
                self._queue.append(batch)
                return batch
            self._room.clear()
            await self._room.wait()

    def _new_batch(self, version: ModelVersion) -> PendingBatch:
        policy = version.batching
        capacity = min(self._capacity or policy.size, policy.size)
        if version.input.batch is not None:
            capacity = policy.size  # a fixed batch: the tensor holds exactly what a run takes
        if self._spare_version is not version:
            self._spare, self._spare_version = [], version
        tensor = self._spare.pop() if self._spare else version.fitter.allocate(capacity)
        return PendingBatch(version, tensor, capacity, batch_target(policy, capacity))

    def _start_clock(self, batch: PendingBatch) -> None:
        delay = batch.version.batching.max_queue_delay_ms / 1000
        if delay <= 0:
            batch.due = True
        else:
            batch.timer = asyncio.get_running_loop().call_later(delay, self._due, batch)

    def _due(self, batch: PendingBatch) -> None:
        batch.due = True
        self._pump()

    # --- running them ----------------------------------------------------------------

    def _pump(self) -> None:
        """Start every batch, or part of one, that may go now, oldest first."""
        while self._queue:
            head = self._queue[0]
            instances = head.version.instances
            if not head.dispatched:
                ready = head.due or len(head.slots) >= head.target
                if not (ready and head.slots) or self._running >= instances:
                    return
                head.dispatched = True
                head.parts = self._parts(head)
                head.unfinished = len(head.parts)
                if head.timer is not None:
                    head.timer.cancel()
            if head.filling:
                return  # it goes when its last frame is in
            while head.parts and self._running < instances:
                self._running += 1
                self._start(head, *head.parts.pop(0))
            if head.parts:
                return  # the rest goes as sessions free up
            self._queue.popleft()

    @staticmethod
    def _parts(batch: PendingBatch) -> list[tuple[int, int]]:
        """The slot ranges a batch runs as: one per session, as even as can be.

        On a CPU a session is about one core: a whole batch on one session while
        another waits would leave that core idle, and a large batch on one session
        holds its frames for as long as it takes. Not for fixed batch sizes (a run
        takes exactly that many rows) or preferred sizes (the model wants those sizes).
        """
        count = len(batch.slots)
        version = batch.version
        if version.input.batch is not None or version.batching.preferred_batch_sizes:
            return [(0, count)]
        runs = max(1, min(version.instances, count))
        bounds = [round(part * count / runs) for part in range(runs + 1)]
        return list(itertools.pairwise(bounds))

    def _start(self, batch: PendingBatch, start: int, end: int) -> None:
        part = batch.slots[start:end]
        if all(slot.abandoned for slot in part):
            self._ran(batch, part, None)
            return
        loop = asyncio.get_running_loop()
        try:
            work = loop.run_in_executor(
                batch.version.executor, self._run_and_decode, batch, start, end
            )
        except RuntimeError as error:  # the server is stopping: its threads are gone
            work = loop.create_future()
            work.set_exception(error)
        work.add_done_callback(functools.partial(self._ran, batch, part))

    def _run_and_decode(
        self, batch: PendingBatch, start: int, end: int
    ) -> tuple[Ran, list[Outcome]]:
        """On the model's thread: run frames ``start:end`` of the batch, then decode each
        frame's output (a hand-over to another thread would cost more than decoding)."""
        ran = batch.version.run(batch.tensor[start:], end - start)
        return ran, self._decode(batch.slots[start:end], ran.outputs)

    def _ran(
        self,
        batch: PendingBatch,
        part: list[Slot],
        work: asyncio.Future[tuple[Ran, list[Outcome]]] | None,
    ) -> None:
        self._running -= 1
        outcomes: list[Outcome] | None = None
        if work is not None:
            if work.cancelled() or work.exception() is not None:
                self._log_failure(batch, len(part), work)
            else:
                ran, outcomes = work.result()
                self._stats.batch_ran(
                    len(part), [ran.started - slot.reserved for slot in part], ran.seconds
                )
        else:
            outcomes = self._decode(part, None)  # every frame abandoned
        batch.unfinished -= 1
        if not batch.unfinished and batch.version is self._spare_version:
            self._spare.append(batch.tensor)  # its frames are in the outputs now
        self._room.set()
        self._pump()
        _deliver(part, outcomes)

    def _log_failure(
        self, batch: PendingBatch, frames: int, work: asyncio.Future[tuple[Ran, list[Outcome]]]
    ) -> None:
        error = None if work.cancelled() else work.exception()
        self._failed(
            f"model {batch.version.name} failed on a batch of {frames} frame(s) ({error!r})"
        )

    def _failed(self, what: str, exc_info: bool = False) -> None:
        self._failures += 1
        log.log(
            logging.ERROR if self._failures == 1 else logging.DEBUG,
            "%s; acknowledged without inferences (later failures are logged at DEBUG"
            " and counted as processor errors)",
            what,
            exc_info=exc_info,
        )

    def _decode(self, slots: list[Slot], outputs: list[np.ndarray] | None) -> list[Outcome]:
        """Each frame's output -> its inferences, by its stream's decoder (on a thread)."""
        outcomes: list[Outcome] = []
        for index, slot in enumerate(slots):
            if slot.abandoned or outputs is None or slot.placement is None:
                outcomes.append(([], not slot.abandoned))
                continue
            try:
                outcomes.append((slot.decoder.decode(outputs[index], slot.placement), False))
            except Exception:
                name = slot.batch.version.name
                self._failed(f"decoding an output of model {name} failed", exc_info=True)
                outcomes.append(([], True))
        return outcomes


def _deliver(slots: list[Slot], outcomes: list[Outcome] | None) -> None:
    for index, slot in enumerate(slots):
        if not slot.future.done():
            slot.future.set_result(outcomes[index] if outcomes is not None else ([], True))
