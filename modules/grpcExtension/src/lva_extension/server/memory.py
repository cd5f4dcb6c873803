"""Giving memory back to the system once the server is idle.

Frames come and go in blocks of hundreds of kilobytes. glibc's allocator keeps
what a flood of them freed in its arenas (its mmap threshold grows after the
first large frees), so a process that held maxHeldMiB once stays that large
for good. When no stream is open, malloc_trim returns those pages.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

CHECK_SECONDS = 5.0


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return None
    return trim


async def trim_when_idle(open_streams: Callable[[], int], frames: Callable[[], int]) -> None:
    """Forever: when no stream is open and frames went through since the last look,
    give the allocator's free pages back."""
    trim = _malloc_trim()
    if trim is None:
        return
    seen = frames()
    while True:
        await asyncio.sleep(CHECK_SECONDS)
        now = frames()
        if now != seen and not open_streams():
            trim(0)
            seen = now
