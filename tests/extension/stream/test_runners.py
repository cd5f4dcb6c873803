"""Where a stream's batches run: on a thread until they prove cheap, then on the event
loop; a stream's end waits for the batch still on a thread before closing the processor."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from lva_extension import Frame, Processor
from lva_extension.frames.format import parse_format
from lva_extension.proto.inferencing_pb2 import Inference
from lva_extension.stream.pipeline import FramePipeline
from lva_extension.stream.runners import LocalRunner
from lva_extension.transports import EmbeddedTransport

from tests.support.streams import descriptor, sample
from tests.support.waiting import eventually

FRAME = bytes(64 * 48 * 3)


class Where(Processor):
    """Records the thread each batch ran on; a batch takes ``slow`` seconds when asked."""

    def __init__(self) -> None:
        self.threads: list[int] = []
        self.slow = 0.0
        self.closed = False

    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        self.threads.append(threading.get_ident())
        time.sleep(self.slow)
        return [[] for _ in frames]

    def close(self) -> None:
        self.closed = True


def runner(processor: Processor, executor, inline_seconds: float) -> LocalRunner:
    fmt = parse_format(descriptor().media_stream_descriptor.media_descriptor, 1 << 24)
    pipeline = FramePipeline(EmbeddedTransport(), fmt, processor, "where", 1 << 24)
    return LocalRunner(pipeline, executor, inline_seconds)


def batch(sequence: int) -> list:
    return [(sequence, sample(sequence, FRAME).media_sample)]


def test_batches_move_to_the_event_loop_once_they_prove_cheaper_than_inline_processing():
    async def scenario(inline_seconds: float) -> list[bool]:
        loop_thread = threading.get_ident()
        processor = Where()
        with ThreadPoolExecutor(1) as executor:
            local = runner(processor, executor, inline_seconds)
            for sequence in range(2, 6):
                await local.process(batch(sequence))
            await local.close()
        assert processor.closed
        return [thread == loop_thread for thread in processor.threads]

    # The first batch's cost is unknown: a thread; then the loop, if that cost is low.
    assert asyncio.run(scenario(0.5)) == [False, True, True, True]
    assert asyncio.run(scenario(0.0)) == [False, False, False, False]


def test_one_slow_batch_does_not_send_the_next_ones_back_to_a_thread():
    async def scenario() -> list[bool]:
        loop_thread = threading.get_ident()
        processor = Where()
        with ThreadPoolExecutor(1) as executor:
            local = runner(processor, executor, inline_seconds=0.1)
            await local.process(batch(2))  # cheap: on a thread (cost unknown yet)
            await local.process(batch(3))  # cheap: on the loop
            processor.slow = 0.3  # one batch three times the limit...
            await local.process(batch(4))
            processor.slow = 0.0
            await local.process(batch(5))  # ...moves the average a tenth of the way
            await local.close()
        return [thread == loop_thread for thread in processor.threads]

    assert asyncio.run(scenario()) == [False, True, True, True]


def test_a_stream_that_ends_waits_for_its_batch_on_a_thread_then_closes_the_processor():
    async def scenario() -> tuple[bool, bool]:
        processor = Where()
        processor.slow = 0.3
        with ThreadPoolExecutor(1) as executor:
            local = runner(processor, executor, inline_seconds=0.0)
            processing = asyncio.ensure_future(local.process(batch(2)))
            await eventually(lambda: processor.threads, within=10, what="the batch on a thread")
            processing.cancel()  # the stream ends (its client went away)
            await local.close()
            closed_after_batch = processor.closed and len(processor.threads) == 1
        return closed_after_batch, processing.cancelled()

    assert asyncio.run(scenario()) == (True, True)


class Parallel(Where):
    thread_safe = True


class Stateful(Where):
    """Not thread-safe; records the names of the threads its batches ran on."""

    thread_safe = False

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        self.names.append(threading.current_thread().name)
        return super().process(frames)


def test_a_runner_runs_on_the_servers_pool_and_says_whether_its_processor_is_thread_safe():
    async def scenario() -> tuple[str, bool, bool]:
        processor = Stateful()
        with ThreadPoolExecutor(1, thread_name_prefix="processing") as executor:
            local = runner(processor, executor, inline_seconds=0.0)
            await local.process(batch(2))
            await local.close()
            safe = runner(Parallel(), executor, inline_seconds=0.0).thread_safe
        return processor.names[0], local.thread_safe, safe

    name, thread_safe, safe = asyncio.run(scenario())
    assert name.startswith("processing") and thread_safe is False and safe is True


def test_batches_that_stay_slow_go_back_to_a_thread():
    async def scenario() -> list[bool]:
        loop_thread = threading.get_ident()
        processor = Where()
        with ThreadPoolExecutor(1) as executor:
            local = runner(processor, executor, inline_seconds=0.1)
            await local.process(batch(2))  # cheap, on a thread: cost known
            processor.slow = 0.3  # the model becomes slow for good
            for sequence in range(3, 13):
                await local.process(batch(sequence))
            await local.close()
        return [thread == loop_thread for thread in processor.threads]

    on_loop = asyncio.run(scenario())
    assert on_loop[1] and not on_loop[-1]  # the first slow one on the loop, later ones not


def test_a_processor_that_never_returns_is_abandoned_when_its_stream_ends(monkeypatch, caplog):
    monkeypatch.setattr("lva_extension.stream.runners.ABANDON_SECONDS", 0.2)
    release = threading.Event()

    class Stuck(Where):
        def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
            self.threads.append(threading.get_ident())
            release.wait(30)
            return [[] for _ in frames]

    async def scenario() -> bool:
        processor = Stuck()
        with ThreadPoolExecutor(1) as executor:
            local = runner(processor, executor, inline_seconds=0.0)
            processing = asyncio.ensure_future(local.process(batch(2)))
            await eventually(lambda: processor.threads, within=10, what="the batch on a thread")
            processing.cancel()
            await asyncio.wait_for(local.close(), 10)  # the stream ends without it
            closed = processor.closed
            release.set()
        return closed

    assert asyncio.run(scenario()) is False  # abandoned: not closed under its feet
    assert [r.getMessage() for r in caplog.records if r.name == "lva_extension.stream.runners"] == [
        "processor where did not return within 0.2s of its stream's end; abandoned"
    ]
