"""Stream slots and the shared byte budget, at their edges, with the words a client reads."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from lva_extension.errors import ResourceExhausted
from lva_extension.stream.limits import ByteBudget, StreamSlots


def test_a_draining_server_refuses_new_streams_as_unavailable():
    slots = StreamSlots(4)
    assert slots.refusal() is None
    slots.draining = True
    refusal = slots.refusal()
    assert refusal is not None
    assert (refusal.status, refusal.message) == (
        grpc.StatusCode.UNAVAILABLE,
        "the server is shutting down; retry on another instance or later",
    )


def test_a_frame_the_size_of_the_whole_budget_is_held_and_one_byte_more_is_refused():
    async def scenario() -> None:
        budget = ByteBudget(1000)
        await asyncio.wait_for(budget.acquire(1000), 5)
        assert budget.held == 1000
        budget.release(1000)
        with pytest.raises(ResourceExhausted) as raised:
            await budget.acquire(1001)
        assert raised.value.message == (
            "a 1001-byte frame exceeds the 1000 bytes this server holds for all streams"
            " (maxHeldMiB)"
        )

    asyncio.run(scenario())


def test_frames_that_exactly_fill_the_budget_do_not_wait():
    async def scenario() -> None:
        budget = ByteBudget(1000)
        await asyncio.wait_for(budget.acquire(600), 5)
        assert budget.has_room(400) and not budget.has_room(401)
        await asyncio.wait_for(budget.acquire(400), 5)
        assert not budget.has_room(1)
        budget.release(1000)
        assert budget.has_room(1000) and not budget.has_room(1001)

    asyncio.run(scenario())
