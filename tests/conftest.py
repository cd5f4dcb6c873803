"""Fixtures: a real extension server on a loopback port, real /dev/shm files."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.containers import why_no_podman
from tests.support.servers import RunningServer, loopback_settings, running_server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``containers`` run real podman containers: skipped where podman cannot."""
    for item in items:
        if item.get_closest_marker("containers") is not None:
            reason = why_no_podman()
            if reason is not None:
                item.add_marker(pytest.mark.skip(reason=reason))


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
        started.append(RunningServer(loopback_settings(**overrides)))
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
