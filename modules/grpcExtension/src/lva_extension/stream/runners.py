"""Where a stream's batches run: here (on the event loop or a thread), or in a
processing process (processes.py). Both answer with a BatchResult."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor
from typing import Protocol

from .pipeline import Batch, BatchResult, FramePipeline

log = logging.getLogger(__name__)

ABANDON_SECONDS = 5.0  # how long an ended stream waits for a batch still being processed


class BatchRunner(Protocol):
    thread_safe: bool

    async def process(self, batch: Batch) -> BatchResult: ...

    async def close(self) -> None: ...


class LocalRunner:
    """Batches run in this process: on the event loop when they have proven cheaper
    than ``inline_seconds`` (handing them to a thread and back would cost more than
    the work), else on the thread pool (numpy and model runtimes release the GIL)."""

    def __init__(self, pipeline: FramePipeline, executor: Executor, inline_seconds: float) -> None:
        self.pipeline = pipeline
        self.thread_safe = pipeline.processor.thread_safe
        self._executor = executor
        self._inline_seconds = inline_seconds
        self._cost = float("inf")  # seconds a batch takes, averaged; unknown at first
        self._work: set[asyncio.Future[BatchResult]] = set()

    async def process(self, batch: Batch) -> BatchResult:
        if self._cost < self._inline_seconds:
            result = self.pipeline.process(batch)
        else:
            future = asyncio.get_running_loop().run_in_executor(
                self._executor, self.pipeline.process, batch
            )
            self._work.add(future)
            future.add_done_callback(self._work.discard)
            # Shielded: a cancelled stream must not forget a batch still on a thread.
            result = await asyncio.shield(future)
        # A moving average, so that one slow batch (a model warming up) or one fast
        # one does not flip the choice; the first batch sets it outright.
        previous = self._cost
        self._cost = (
            result.seconds if previous == float("inf") else 0.9 * previous + 0.1 * result.seconds
        )
        return result

    async def close(self) -> None:
        # A cancelled stream may still have a batch on a thread reading the mapping.
        if self._work:
            await asyncio.wait(set(self._work), timeout=ABANDON_SECONDS)
        if self._work:
            # A processor that never returns must not hold its stream (or a shutdown)
            # forever: the stream ends without it. Its thread keeps the frame's bytes
            # (and the mapping) alive until it returns, if ever.
            log.warning(
                "processor %s did not return within %gs of its stream's end; abandoned",
                self.pipeline.processor_name,
                ABANDON_SECONDS,
            )
            self.pipeline.transport.close()
            return
        self.pipeline.close()
