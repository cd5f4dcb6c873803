"""Fixtures: a real extension server on a loopback port, real /dev/shm files."""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from lva_extension.server import ExtensionServer
from lva_extension.settings import Settings

REPO = Path(__file__).resolve().parent.parent


class RunningServer:
    """An ExtensionServer serving from its own event loop thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.server: ExtensionServer = self._call(self._start())

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    async def _start(self) -> ExtensionServer:
        server = ExtensionServer(self.settings)
        await server.start()
        return server

    @property
    def address(self) -> str:
        return self.server.address

    def stop(self) -> None:
        self._call(self.server.stop(0))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@contextmanager
def running_server(**overrides: Any) -> Iterator[RunningServer]:
    settings = replace(Settings(grpc_binding="tcp://127.0.0.1:0"), **overrides)
    server = RunningServer(settings)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    """One default server shared by a test module."""
    with running_server() as running:
        yield running


@pytest.fixture
def start_server() -> Iterator[Callable[..., RunningServer]]:
    """Start servers with custom settings; all are stopped after the test."""
    started: list[RunningServer] = []

    def start(**overrides: Any) -> RunningServer:
        settings = replace(Settings(grpc_binding="tcp://127.0.0.1:0"), **overrides)
        started.append(RunningServer(settings))
        return started[-1]

    yield start
    for running in started:
        running.stop()


CLIENT_RING = re.compile(r"^lva-extension-client-(\d+)-")


@pytest.fixture
def shm_dir_clean() -> Iterator[None]:
    """Fail the test if a client ring is left in /dev/shm by this process or one that ended.

    Rings of other live processes are not ours to judge: tests may run side by side.
    """
    before = set(Path("/dev/shm").iterdir())
    yield
    left = []
    for path in set(Path("/dev/shm").iterdir()) - before:
        match = CLIENT_RING.match(path.name)
        if match and (int(match[1]) == os.getpid() or not Path(f"/proc/{match[1]}").exists()):
            left.append(path)
    assert not left, f"left behind in /dev/shm: {left}"
