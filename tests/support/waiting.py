"""Waiting for a condition with a deadline, instead of sleeping for a guessed time.

A fixed sleep is too short on a loaded machine and too long everywhere else; a
wait polls the condition and fails, naming what it waited for, only once the
deadline has passed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_SECONDS = 0.02


def wait_for(condition: Callable[[], T], timeout: float = 30, what: str = "") -> T:
    """Poll until ``condition()`` is true; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            break
        time.sleep(POLL_SECONDS)
    assert value, f"timed out after {timeout:g}s waiting for {what or condition}"
    return value


async def eventually(condition: Callable[[], T], within: float = 30, what: str = "") -> T:
    """``wait_for`` on an event loop: the loop runs (and so the code under test) meanwhile."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            break
        await asyncio.sleep(POLL_SECONDS)
    assert value, f"timed out after {within:g}s waiting for {what or condition}"
    return value
