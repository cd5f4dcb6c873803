"""The client's side of shared memory: a ring of frame regions in /dev/shm.

The client creates the file, writes each frame into a free region, names the
region in a ContentReference, and frees the region only when the server
acknowledges that sample: a region is never written while the server may
still read it.
"""

from __future__ import annotations

import asyncio
import mmap
import os
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from ..contract import SHM_DIR


@dataclass
class Region:
    offset: int
    length: int
    freed: bool = False

    @property
    def end(self) -> int:
        return self.offset + self.length


class RingAllocator:
    """Variable-size regions handed out in a circle, freed in any order.

    Space is reclaimed from the oldest region on, so a region freed early
    becomes reusable once every region allocated before it is freed too.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._regions: deque[Region] = deque()  # live, in allocation order
        self._by_offset: dict[int, Region] = {}

    def allocate(self, length: int) -> int | None:
        """The offset of a new region, or None while there is no room."""
        if not 0 < length <= self.size:
            raise ValueError(f"a region of {length} bytes cannot fit a {self.size}-byte ring")
        offset = self._find_room(length)
        if offset is not None:
            region = Region(offset, length)
            self._regions.append(region)
            self._by_offset[offset] = region
        return offset

    def _find_room(self, length: int) -> int | None:
        if not self._regions:
            return 0
        oldest, newest = self._regions[0].offset, self._regions[-1].end
        if self._regions[-1].offset >= oldest:  # not wrapped: room after newest, then before oldest
            if newest + length <= self.size:
                return newest
            return 0 if length <= oldest else None
        return newest if newest + length <= oldest else None

    def free(self, offset: int) -> None:
        region = self._by_offset.pop(offset)
        region.freed = True
        while self._regions and self._regions[0].freed:
            self._regions.popleft()

    @property
    def live(self) -> list[tuple[int, int]]:
        """(offset, length) of every region not yet freed."""
        return [(r.offset, r.length) for r in self._regions if not r.freed]


class SharedMemoryRing:
    """A /dev/shm file the client owns, with regions allocated and freed on ack."""

    def __init__(self, size: int, directory: Path = SHM_DIR, name: str | None = None) -> None:
        self.name = name or f"lva-extension-client-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.path = directory / self.name
        self.size = size
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            os.ftruncate(fd, size)
            self._map = mmap.mmap(fd, size)
        except BaseException:
            os.unlink(self.path)
            raise
        finally:
            os.close(fd)
        self._allocator = RingAllocator(size)
        self._room = asyncio.Condition()

    async def put(self, data: bytes) -> int:
        """Copy one frame into the ring, waiting for room; returns its offset."""
        async with self._room:
            # Boxed: offset 0 is a valid answer but a false one.
            slot = await self._room.wait_for(lambda: self._try_allocate(len(data)))
        assert slot is not None  # wait_for returns only once the predicate is true
        offset = slot[0]
        self._map[offset : offset + len(data)] = data
        return offset

    def _try_allocate(self, length: int) -> tuple[int] | None:
        offset = self._allocator.allocate(length)
        return None if offset is None else (offset,)

    async def release(self, offset: int) -> None:
        async with self._room:
            self._allocator.free(offset)
            self._room.notify_all()

    def close(self) -> None:
        """Unmap and remove the file; safe to call twice."""
        if not self._map.closed:
            self._map.close()
        self.path.unlink(missing_ok=True)
