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
