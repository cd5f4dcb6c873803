"""Limits against abuse: concurrent streams, and bytes of frames held in memory."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import ExtensionError, ResourceExhausted, Unavailable


class StreamSlots:
    """At most ``limit`` streams at once; none at all once the server drains."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self.draining = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: set[asyncio.Task[object]] = set()

    def refusal(self) -> ExtensionError | None:
        """Why a new stream cannot have a slot now, or None."""
        if self.draining:
            return Unavailable("the server is shutting down; retry on another instance or later")
        if self.open >= self.limit:
            return ResourceExhausted(
                f"this server serves at most {self.limit} streams at once (maxStreams); retry later"
            )
        return None

    @contextmanager
    def claim(self) -> Iterator[None]:
        refusal = self.refusal()
        if refusal is not None:
            raise refusal
        self.open += 1
        self._idle.clear()
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            yield
        finally:
            self._tasks.discard(task)
            self.open -= 1
            if not self.open:
                self._idle.set()

    def cancel_all(self) -> int:
        """Cancel every open stream (the grace period is over); returns how many."""
        for task in self._tasks:
            task.cancel()
        return len(self._tasks)

    async def wait_idle(self) -> None:
        """Until every stream has finished (including its clean-up)."""
        await self._idle.wait()


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

    def has_room(self, size: int) -> bool:
        return self.held + size <= self.limit

    def release(self, size: int) -> None:
        if size:
            self.held -= size
            self._released.set()
