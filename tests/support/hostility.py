"""What every hostile test checks after its attack: a normal stream on the same
server is fully served, and the server process is back near its footprint
(resident memory, open file descriptors, threads) from before the attack."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from lva_extension.client import ClientOptions, ExtensionCallError, StreamFormat
from lva_extension.client.clips import dark_light_frames

from tests.support.paths import REPO
from tests.support.processes import ServerProcess, server_process
from tests.support.streams import run_client, tags

# "Near": what a served stream may leave behind (allocator arenas, a lazily
# started thread of a pool) without anything having leaked.
RSS_MARGIN_MIB = 48
FD_MARGIN = 6
THREAD_MARGIN = 6  # gRPC's own threads come and go

# Processes the hostile tests run; both processing modes where the attack
# touches the processor or the frames. Dotted paths are allowed for the test
# processors only.
TEST_MODULES = ("--allow-processor-paths", "true", "--allowed-processor-modules", "tests.")
# Two processing threads, both started by the warm-up, so that the pool adds none later.
THREADS = ("--processing-threads", "2")
MODES = {"in-process": (), "processingProcesses": ("--processing-processes", "1")}


@dataclass(frozen=True)
class Footprint:
    rss_mib: float
    fds: int
    threads: int

    def near(self, baseline: Footprint) -> bool:
        return (
            self.rss_mib <= baseline.rss_mib + RSS_MARGIN_MIB
            and self.fds <= baseline.fds + FD_MARGIN
            and self.threads <= baseline.threads + THREAD_MARGIN
        )


def footprint(pid: int) -> Footprint:
    """The footprint of a process and its processing processes together."""
    rss, fds, threads = 0.0, 0, 0
    for each in [pid, *children(pid)]:
        try:
            status = Path(f"/proc/{each}/status").read_text()
            fds += len(list(Path(f"/proc/{each}/fd").iterdir()))
        except FileNotFoundError:
            continue
        rss += int(_field(status, "VmRSS")) / 1024
        threads += int(_field(status, "Threads"))
    return Footprint(rss, fds, threads)


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except FileNotFoundError:
        return []


def _field(status: str, name: str) -> str:
    match = re.search(rf"^{name}:\s+(\d+)", status, re.MULTILINE)
    assert match, f"no {name} in /proc status"
    return match[1]


def normal_stream_served(address: str, shared_memory: bool = False, frames: int = 6) -> bool:
    """A well-behaved camera gets every frame acknowledged with the right inference."""
    options = ClientOptions(address, StreamFormat(width=32, height=32), shared_memory=shared_memory)
    results, summary = run_client(options, dark_light_frames(32, 32, frames, scene_frames=frames))
    return summary.violations == [] and tags(results) == ["dark"] * frames


def served_once_slots_free(address: str, shared_memory: bool, timeout: float = 5) -> bool:
    """``normal_stream_served``, once the server has freed the slots of the attack's
    streams: an attacker's dropped connections reach a loaded server over a moment (it
    took up to half a second with two busy cores), and every slot must be back within
    ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return normal_stream_served(address, shared_memory)
        except ExtensionCallError as error:
            if error.code != grpc.StatusCode.RESOURCE_EXHAUSTED or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def settled(pid: int, baseline: Footprint, timeout: float = 15) -> Footprint:
    """The process's footprint once it is back near ``baseline`` (or after ``timeout``)."""
    deadline = time.monotonic() + timeout
    now = footprint(pid)
    while not now.near(baseline) and time.monotonic() < deadline:
        time.sleep(0.2)
        now = footprint(pid)
    return now


@dataclass
class Target:
    """A real ``lva-extension serve`` process under attack, and its baseline."""

    running: ServerProcess
    baseline: Footprint

    @property
    def address(self) -> str:
        return self.running.address

    @property
    def log(self) -> str:
        return "\n".join(self.running.log)

    def assert_unharmed(self, shared_memory: bool = False) -> None:
        """Still alive, still serving, and back near its footprint before the attack."""
        assert self.running.process.poll() is None, "the server process died:\n" + self.log
        assert served_once_slots_free(self.address, shared_memory), self.log[-3000:]
        now = settled(self.running.pid, self.baseline)
        assert now.near(self.baseline), f"footprint {now} after the attack, {self.baseline} before"


@contextmanager
def target(*args: str) -> Iterator[Target]:
    """A server process warmed up by normal streams of both transports."""
    with server_process(*TEST_MODULES, *THREADS, *args, env={"PYTHONPATH": str(REPO)}) as running:
        for shared_memory in (False, True, False, True):
            assert normal_stream_served(running.address, shared_memory), "\n".join(running.log)
        # Streams side by side, so that every thread a pool starts lazily is started.
        warm = [
            threading.Thread(target=normal_stream_served, args=(running.address, s, 30))
            for s in (False, True, False, True)
        ]
        for thread in warm:
            thread.start()
        for thread in warm:
            thread.join(timeout=60)
        yield Target(running, footprint(running.pid))


def shm_name() -> str:
    return f"lva-extension-hostile-{uuid.uuid4().hex}"
