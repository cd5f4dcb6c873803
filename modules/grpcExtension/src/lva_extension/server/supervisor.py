"""Several server processes on one port, so that every core serves streams.

One Python process runs its event loop on one core. With ``workers`` above 1,
``lva-extension serve`` becomes a supervisor: it starts that many server
processes that listen on the same port (SO_REUSEPORT: the kernel spreads new
connections, and so streams, over them), forwards SIGTERM and SIGINT to them,
restarts one that dies, and exits when they have all stopped.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

from ..errors import ConfigurationError
from ..settings import Settings

log = logging.getLogger(__name__)

RESTART_DELAY = 1.0


def worker_environment(settings: Settings, index: int, port: int) -> dict[str, str]:
    """Every setting as the environment variable it comes from, for worker ``index``.

    The environment, not the command line: a password on a command line is
    visible to every user of the machine.
    """
    env = dict(os.environ)
    for f in dataclasses.fields(Settings):
        env[f.metadata["env"]] = str(getattr(settings, f.name))
    binding = settings.binding
    host = f"[{binding.host}]" if ":" in binding.host else binding.host
    env.update(
        workers="1",
        reusePort="true",
        grpcBinding=f"tcp://{host}:{port}",
        metricsPort=str(settings.metrics_port + index if settings.metrics_port else 0),
    )
    return env


def _reserve_port(host: str, port: int) -> socket.socket:
    """A bound, non-listening socket that fixes the port the workers share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    reserved = socket.socket(family, socket.SOCK_STREAM)
    reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        reserved.bind((host, port))
    except OSError as error:
        reserved.close()
        raise ConfigurationError(
            f"grpcBinding: cannot listen on {host}:{port}: {error.strerror}"
        ) from None
    return reserved


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        binding = settings.binding
        if binding.scheme != "tcp":
            raise ConfigurationError("workers: more than 1 needs a tcp:// grpcBinding")
        self.settings = settings
        self._reserved = _reserve_port(binding.host, binding.port)
        self.port = int(self._reserved.getsockname()[1])
        self._workers: dict[int, subprocess.Popen[bytes]] = {}
        self._stopping: int | None = None

    def _start(self, index: int) -> None:
        command = [sys.executable, "-m", "lva_extension", "serve"]
        env = worker_environment(self.settings, index, self.port)
        self._workers[index] = subprocess.Popen(command, env=env)

    def _signal(self, signum: int, _frame: FrameType | None) -> None:
        if self._stopping is None:
            log.info("%s: stopping %d workers", signal.Signals(signum).name, len(self._workers))
        self._stopping = signum
        for process in self._workers.values():
            if process.poll() is None:
                process.send_signal(signum)

    def supervise(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._signal)
        log.info("starting %d workers on port %d", self.settings.workers, self.port)
        for index in range(self.settings.workers):
            self._start(index)
        codes: dict[int, int] = {}
        try:
            while len(codes) < len(self._workers):
                for index, process in self._workers.items():
                    code = process.poll()
                    if code is None or index in codes:
                        continue
                    if self._stopping is None:
                        log.error("worker %d exited with %d; restarting it", index, code)
                        time.sleep(RESTART_DELAY)
                    # A signal during the delay: a worker started now would never get it.
                    if self._stopping is None:
                        self._start(index)
                    else:
                        codes[index] = code
                time.sleep(0.1)
        finally:
            self._reserved.close()
        return max(codes.values(), default=0)
