"""The client's shared-memory ring: regions are never reused before they are freed."""

from __future__ import annotations

import asyncio
import itertools
import random
from pathlib import Path

import pytest
from lva_extension.client.shm_ring import RingAllocator, SharedMemoryRing


def overlaps(regions: list[tuple[int, int]]) -> bool:
    spans = sorted(regions)
    return any(a + n > b for (a, n), (b, _) in itertools.pairwise(spans))


def test_regions_wrap_around_and_wait_for_the_oldest():
    ring = RingAllocator(100)
    a, b, c = ring.allocate(40), ring.allocate(40), ring.allocate(30)
    assert (a, b, c) == (0, 40, None)
    ring.free(40)  # freed out of order: still behind a
    assert ring.allocate(30) is None
    ring.free(0)
    assert ring.allocate(30) == 0  # everything freed: start again at 0
    assert ring.allocate(71) is None
    assert ring.allocate(40) == 30
    ring.free(0)
    assert ring.allocate(31) is None  # 30 free before, 30 after: neither fits
    assert ring.allocate(30) == 70
    assert ring.allocate(30) == 0  # wrapped to the start


@pytest.mark.parametrize("seed", range(5))
def test_random_sizes_and_free_orders_never_overlap(seed):
    rng = random.Random(seed)
    ring = RingAllocator(1000)
    live: list[tuple[int, int]] = []
    for _ in range(5000):
        if live and (rng.random() < 0.5):
            offset, _length = live.pop(rng.randrange(len(live)))
            ring.free(offset)
        else:
            length = rng.randint(1, 300)
            offset = ring.allocate(length)
            if offset is not None:
                assert offset >= 0 and offset + length <= 1000
                live.append((offset, length))
        assert not overlaps(live)
        assert sorted(ring.live) == sorted(live)


def test_too_large_a_frame_is_an_error():
    with pytest.raises(ValueError, match="cannot fit"):
        RingAllocator(10).allocate(11)


def test_ring_file_lives_in_dev_shm_and_is_removed(shm_dir_clean):
    async def use() -> Path:
        ring = SharedMemoryRing(4096)
        assert ring.path.parent == Path("/dev/shm") and ring.path.stat().st_size == 4096
        offset = await ring.put(b"abc")
        assert ring.path.read_bytes()[offset : offset + 3] == b"abc"
        await ring.release(offset)
        ring.close()
        ring.close()
        return ring.path

    assert not asyncio.run(use()).exists()


def test_put_waits_for_room():
    async def scenario() -> list[str]:
        ring = SharedMemoryRing(100)
        events: list[str] = []
        first = await ring.put(bytes(80))

        async def second() -> None:
            await ring.put(bytes(50))
            events.append("second placed")

        task = asyncio.create_task(second())
        for _ in range(5):  # turns of the loop: the second put goes as far as it can
            await asyncio.sleep(0)
        events.append("releasing first")
        await ring.release(first)
        await task
        ring.close()
        return events

    assert asyncio.run(scenario()) == ["releasing first", "second placed"]
