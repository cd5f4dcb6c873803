"""Run ``lva-extension`` commands as real processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent
SERVING = re.compile(r"serving the LVA gRPC extension on (\S+):(\d+)")


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    address: str
    log: list[str]

    def __post_init__(self) -> None:
        # Keep reading the log, or a full pipe would block the server's logging.
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line.rstrip())

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            # A server that does not stop fails its test, and is not left running.
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
            for pid in children.read_text().split() if children.exists() else ():
                os.kill(int(pid), signal.SIGKILL)
            self.process.kill()
            self.process.wait(timeout=10)
            raise
        self._reader.join(timeout=10)
        return code


@contextmanager
def server_process(*args: str, env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    """``lva-extension serve`` on a free loopback port; stopped with SIGTERM after."""
    process = subprocess.Popen(
        [str(BIN / "lva-extension"), "serve", "--grpc-binding", "tcp://127.0.0.1:0", *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **(env or {})},
    )
    log: list[str] = []
    assert process.stderr is not None
    for line in process.stderr:
        log.append(line.rstrip())
        match = SERVING.search(line)
        if match:
            break
    else:
        process.wait(timeout=10)
        raise AssertionError("server did not start:\n" + "\n".join(log))
    running = ServerProcess(process, f"127.0.0.1:{match[2]}", log)
    try:
        yield running
    finally:
        running.stop()


def run_command(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "lva-extension"), *args], capture_output=True, text=True, timeout=timeout
    )


def mapped_paths(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()
