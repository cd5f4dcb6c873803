"""The Batcher: batches by size, by timeout after the first item, at flush; none after close."""

from __future__ import annotations

import asyncio

from lva_extension.stream.batching import Batcher


def run(scenario):
    return asyncio.run(scenario())


def test_a_full_batch_goes_at_once_in_arrival_order():
    async def scenario():
        batches: list[list[int]] = []
        batcher = Batcher(3, 60.0, batches.append)
        for item in range(7):
            batcher.add(item)
        return batches

    assert run(scenario) == [[0, 1, 2], [3, 4, 5]]


def test_a_partial_batch_goes_when_the_timeout_after_its_first_item_passes():
    async def scenario():
        batches: list[list[int]] = []
        sent = asyncio.Event()

        def dispatch(batch: list[int]) -> None:
            batches.append(batch)
            sent.set()

        batcher = Batcher(4, 0.5, dispatch)
        batcher.add(1)
        await asyncio.sleep(0.01)  # pacing: the second item comes later, well within the timeout
        batcher.add(2)
        before = list(batches)
        await asyncio.wait_for(sent.wait(), 5)
        return before, batches

    before, after = run(scenario)
    assert before == []
    assert after == [[1, 2]]


def test_flush_sends_what_is_there_and_cancels_the_timer():
    async def scenario():
        batches: list[list[int]] = []
        batcher = Batcher(4, 0.02, batches.append)
        batcher.add(1)
        batcher.flush()
        # Past the timer's time (the loop runs due timers before a later sleep ends): the
        # cancelled timer must not send an empty batch.
        await asyncio.sleep(0.05)
        batcher.flush()  # nothing left: nothing sent
        return batches

    assert run(scenario) == [[1]]


def test_close_forgets_pending_items():
    async def scenario():
        batches: list[list[int]] = []
        batcher = Batcher(4, 0.02, batches.append)
        batcher.add(1)
        batcher.close()
        await asyncio.sleep(0.05)  # past the timer's time: nothing is sent
        return batches

    assert run(scenario) == []


def test_a_batcher_with_nothing_pending_closes_and_flushes_quietly():
    async def scenario():
        batches: list[list[int]] = []
        batcher = Batcher(2, 0.02, batches.append)
        batcher.flush()  # nothing pending, no timer
        batcher.add(1)
        batcher.add(2)  # full: sent at once, its timer cancelled
        batcher.close()  # nothing pending
        return batches

    assert run(scenario) == [[1, 2]]
