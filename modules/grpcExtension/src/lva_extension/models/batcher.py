"""The dynamic batcher: frames of many streams gathered into one model's batches.

A stream reserves a slot for each of its frames (in its order), fills the
slots on a thread (its frames are read and fitted straight into the batch's
preallocated input tensor, and their bytes let go), and awaits each frame's
result. A batch goes to a free session when it holds ``maxBatchSize`` frames,
or the largest preferred size, or ``maxQueueDelayMs`` after its first frame,
whichever comes first; while every session is busy it keeps growing up to
``maxBatchSize`` (so a loaded model runs larger batches). A batch that finds
several sessions free is split over them. It runs once, and
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
    dispatched: bool = False  # sessions are taken for it: no more slots
    timer: asyncio.TimerHandle | None = None
    runs: int = 1  # the sessions it is split over (set when dispatched)
    running: int = 0  # its runs not finished yet


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
        """Start every batch that may go now, oldest first."""
        while self._queue:
            head = self._queue[0]
            if not head.dispatched:
                ready = head.due or len(head.slots) >= head.target
                free = head.version.instances - self._running
                if not (ready and head.slots) or free <= 0:
                    return
                head.dispatched = True
                head.runs = self._runs(head, free)
                self._running += head.runs
                if head.timer is not None:
                    head.timer.cancel()
            if head.filling:
                return  # it goes when its last frame is in
            self._queue.popleft()
            self._run(head)

    @staticmethod
    def _runs(batch: PendingBatch, free: int) -> int:
        """How many sessions a batch is split over: every free one, one part each.

        On a CPU a session is about one core: a batch on one session while another
        idles would leave that core unused. Not for fixed batch sizes (a run takes
        exactly that many rows) or preferred sizes (the model wants those sizes).
        """
        version = batch.version
        if version.input.batch is not None or version.batching.preferred_batch_sizes:
            return 1
        return max(1, min(free, len(batch.slots)))

    def _run(self, batch: PendingBatch) -> None:
        count = len(batch.slots)
        bounds = [round(part * count / batch.runs) for part in range(batch.runs + 1)]
        batch.running = batch.runs
        loop = asyncio.get_running_loop()
        for start, end in itertools.pairwise(bounds):
            part = batch.slots[start:end]
            if all(slot.abandoned for slot in part):
                self._ran(batch, part, None)
                continue
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
        batch.running -= 1
        if not batch.running and batch.version is self._spare_version:
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
