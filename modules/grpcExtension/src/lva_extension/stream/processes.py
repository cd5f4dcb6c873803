"""processingProcesses: processors in processes of their own, each stream pinned to one.

The functions at the top run inside a processing process; they are pickled by
module path (the pool spawns fresh interpreters), so this module and the
package faces it imports stay cheap to import.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import cast

from ..errors import ExtensionError, Internal
from ..frames import FrameFormat
from ..logs import configure_logging
from ..processors import LoadingRules, ProcessorSpec, create_processor
from ..proto import extension_pb2, inferencing_pb2
from ..transports import SharedMemoryLimits, open_transport
from .pipeline import Batch, BatchResult, FramePipeline
from .runners import ABANDON_SECONDS

log = logging.getLogger(__name__)

_pipelines: dict[int, FramePipeline] = {}  # inside a processing process, by stream


def _open(
    stream: int,
    descriptor: bytes,
    spec: ProcessorSpec,
    fmt: FrameFormat,
    rules: LoadingRules,
    limits: SharedMemoryLimits,
    max_frame_pixels: int,
) -> bool:
    # The shared memory is mapped here, in the process that reads the frames.
    transport = open_transport(extension_pb2.MediaStreamDescriptor.FromString(descriptor), limits)
    try:
        processor = create_processor(spec, rules)
    except BaseException:
        transport.close()
        raise
    _pipelines[stream] = FramePipeline(transport, fmt, processor, spec.name, max_frame_pixels)
    return processor.thread_safe


def _start(log_level: str) -> None:
    # The server process decides when its processing processes stop: a Ctrl+C sent
    # to the whole process group must not end them under their streams.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(log_level)


def _run(stream: int, batch: list[tuple[int, bytes]]) -> tuple[list[list[bytes]], int, float]:
    # Messages cross the process boundary serialized, as they travel on the wire.
    samples = [(sequence, extension_pb2.MediaSample.FromString(raw)) for sequence, raw in batch]
    result = _pipelines[stream].process(samples)
    inferences = [[i.SerializeToString() for i in frame] for frame in result.inferences]
    return inferences, result.failed_frames, result.seconds


def _close(stream: int) -> None:
    pipeline = _pipelines.pop(stream, None)  # None: its opening failed
    if pipeline is not None:
        pipeline.close()


class ProcessingPool:
    """``size`` processing processes; each stream is pinned to one, where its
    processor lives, so that a stateful processor sees its frames in order."""

    def __init__(self, size: int, log_level: str) -> None:
        self._log_level = log_level
        self._executors = [self._new_executor() for _ in range(size)]
        self._turn = itertools.count()
        self._streams = itertools.count(1)

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            1,
            mp_context=multiprocessing.get_context("spawn"),  # no inherited threads or loops
            initializer=_start,
            initargs=(self._log_level,),
        )

    async def open(
        self,
        descriptor: extension_pb2.MediaStreamDescriptor,
        spec: ProcessorSpec,
        fmt: FrameFormat,
        rules: LoadingRules,
        limits: SharedMemoryLimits,
        max_frame_pixels: int,
    ) -> RemoteRunner:
        index = next(self._turn) % len(self._executors)
        stream = next(self._streams)
        runner = RemoteRunner(self, index, stream)
        opening = asyncio.ensure_future(
            runner.call(
                _open,
                stream,
                descriptor.SerializeToString(),
                spec,
                fmt,
                rules,
                limits,
                max_frame_pixels,
            )
        )
        try:
            runner.thread_safe = bool(await asyncio.shield(opening))
        except asyncio.CancelledError:
            # The client left while the process was opening: close it there once opened.
            opening.add_done_callback(lambda _: asyncio.ensure_future(runner.close()))
            raise
        return runner

    def executor(self, index: int) -> ProcessPoolExecutor:
        return self._executors[index]

    def replace(self, index: int, broken: ProcessPoolExecutor) -> None:
        """A processing process died: its streams end; new ones get a new process."""
        if self._executors[index] is broken:
            log.error("processing process %d died; starting a new one", index)
            self._executors[index] = self._new_executor()

    def shutdown(self) -> None:
        for executor in self._executors:
            executor.shutdown(wait=False, cancel_futures=True)

    @staticmethod
    def stop_stuck(wait: float) -> int:
        """Terminate processing processes still running ``wait`` seconds after shutdown
        (a processor that never returns); returns how many there were."""
        deadline = time.monotonic() + wait
        while multiprocessing.active_children() and time.monotonic() < deadline:
            time.sleep(0.1)
        stuck = multiprocessing.active_children()
        for process in stuck:
            process.terminate()
        for process in stuck:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
        return len(stuck)


class RemoteRunner:
    """A stream's batches, run by its processing process."""

    thread_safe = False

    def __init__(self, pool: ProcessingPool, index: int, stream: int) -> None:
        self._pool = pool
        self._index = index
        self._stream = stream
        self._executor = pool.executor(index)

    async def call(self, function: object, *args: object) -> object:
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor,
                function,  # type: ignore[arg-type]
                *args,
            )
        except BrokenProcessPool:
            self._pool.replace(self._index, self._executor)
            raise Internal("the processing process of this stream died (see the log)") from None
        except (ExtensionError, asyncio.CancelledError):
            raise
        except BaseException as error:
            # What a plugin raised there comes back here; SystemExit must not end
            # this process (the pipeline catches what it can; this is the backstop).
            log.error("a call in processing process %d failed", self._index, exc_info=error)
            raise Internal(f"the processing process failed: {type(error).__name__}") from None

    async def process(self, batch: Batch) -> BatchResult:
        raw = [(sequence, sample.SerializeToString()) for sequence, sample in batch]
        answer = await asyncio.shield(self.call(_run, self._stream, raw))
        inferences, failed, seconds = cast(tuple[list[list[bytes]], int, float], answer)
        parse = inferencing_pb2.Inference.FromString
        return BatchResult([[parse(i) for i in frame] for frame in inferences], failed, seconds)

    async def close(self) -> None:
        # A dead process took its mapping along; a stuck one is ended at shutdown.
        with contextlib.suppress(ExtensionError, TimeoutError):
            await asyncio.wait_for(self.call(_close, self._stream), ABANDON_SECONDS)
