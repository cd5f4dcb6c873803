"""Group a stream's samples into batches of up to ``size``, or whatever has
arrived ``timeout`` seconds after a batch's first sample."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Batcher(Generic[T]):
    def __init__(self, size: int, timeout: float, dispatch: Callable[[list[T]], object]) -> None:
        self._size = size
        self._timeout = timeout
        self._dispatch = dispatch
        self._items: list[T] = []
        self._timer: asyncio.TimerHandle | None = None

    def add(self, item: T) -> None:
        self._items.append(item)
        if len(self._items) >= self._size:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._timeout, self.flush)

    def flush(self) -> None:
        """Dispatch the partial batch now (at its timeout, or at the end of the stream)."""
        self._cancel_timer()
        if self._items:
            batch, self._items = self._items, []
            self._dispatch(batch)

    def close(self) -> None:
        """Forget pending items without dispatching them (the stream is being torn down)."""
        self._cancel_timer()
        self._items = []

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
