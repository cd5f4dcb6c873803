"""Limits against abuse: concurrent streams, and bytes of frames held in memory."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import ResourceExhausted, Unavailable


class StreamSlots:
    """At most ``limit`` streams at once; none at all once the server drains."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self.draining = False

    @contextmanager
    def claim(self) -> Iterator[None]:
        if self.draining:
            raise Unavailable("the server is shutting down; retry on another instance or later")
        if self.open >= self.limit:
            raise ResourceExhausted(
                f"this server serves at most {self.limit} streams at once (maxStreams); retry later"
            )
        self.open += 1
        try:
            yield
        finally:
            self.open -= 1


class ByteBudget:
    """Bytes of embedded frames held (queued or being processed) by all streams.

    A stream that would exceed the budget waits (and so stops reading, which
    gRPC flow control passes back to its client) until others release bytes.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self._released = asyncio.Event()

    async def acquire(self, size: int) -> None:
        if size > self.limit:
            raise ResourceExhausted(
                f"a {size}-byte frame exceeds the {self.limit} bytes this server holds"
                " for all streams (maxHeldMiB)"
            )
        while self.held + size > self.limit:
            self._released.clear()
            await self._released.wait()
        self.held += size

    def release(self, size: int) -> None:
        if size:
            self.held -= size
            self._released.set()
