"""What the benchmark's cases share: a case, its figures, a server process, and
streams of the project's own client driving it."""

from __future__ import annotations

import asyncio
import os
import platform
import re
import resource
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from lva_extension.client import ClientOptions, ExtensionClient, StreamFormat
from lva_extension.client.clips import dark_light_frames
from lva_extension.frames import encode

SERVING = re.compile(r"serving the LVA gRPC extension on \S+?:(\d+)")
TICKS = os.sysconf("SC_CLK_TCK")
METRIC = re.compile(r"^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$")


@dataclass(frozen=True)
class Case:
    number: str
    title: str
    fmt: StreamFormat
    shm: bool = False
    streams: int = 1
    window: int = 8
    fps: float | None = None
    frames: int = 1500  # per stream
    seconds: float | None = None  # paced cases: duration instead of a frame count
    configuration: str = ""  # the streams' extension_configuration


@dataclass
class Figures:
    fps: float
    p50_ms: float
    p99_ms: float
    cpu_s_per_1000: float
    peak_mib: float
    wall_s: float
    frames: int
    acknowledged: int
    violations: int
    extra: dict[str, float] = field(default_factory=dict)


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    address: str
    metrics_port: int = 0

    def metrics(self) -> dict[str, float]:
        """The server's Prometheus metrics (with metricsPort), name{labels} -> value."""
        if not self.metrics_port:
            return {}
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        text = urllib.request.urlopen(url, timeout=10).read().decode()
        found = (METRIC.match(line) for line in text.splitlines())
        return {m[1]: float(m[2]) for m in found if m}

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in [self.process.pid, *children(self.process.pid)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += (int(fields[11]) + int(fields[12])) / TICKS
        return total

    def peak_mib(self) -> float:
        peak = 0
        for pid in [self.process.pid, *children(self.process.pid)]:
            status = Path(f"/proc/{pid}/status").read_text()
            match = re.search(r"VmHWM:\s+(\d+) kB", status)
            peak += int(match[1]) if match else 0
        return peak / 1024


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


@contextmanager
def server(command: list[str], metrics_port: int = 0) -> Iterator[ServerProcess]:
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:
        match = SERVING.search(line)
        if match:
            break
    else:
        raise SystemExit(f"server did not start: {command}")
    # Keep draining its log so that it never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()  # type: ignore[union-attr]
    try:
        yield ServerProcess(process, f"127.0.0.1:{match[1]}", metrics_port)
    finally:
        process.terminate()
        process.wait(timeout=30)


def frames_for(fmt: StreamFormat) -> list[bytes]:
    """Frames encoded once up front, so that the client's encoding is not measured."""
    frame_format = fmt.frame_format()
    return [encode(rgb, frame_format) for rgb in dark_light_frames(fmt.width, fmt.height, 4, 2)]


async def one_stream(address: str, case: Case, encoded: list[bytes], index: int) -> ExtensionClient:
    options = ClientOptions(
        address,
        case.fmt,
        shared_memory=case.shm,
        window=case.window,
        fps=case.fps,
        graph_instance=f"bench-{index}",
        extension_configuration=case.configuration,
        max_message_bytes=256 * 1024 * 1024,
    )
    client = ExtensionClient(options)
    async for _ in client.stream(frame_source(case, encoded)):
        pass
    return client


def frame_source(case: Case, encoded: list[bytes]) -> Iterator[bytes]:
    """``case.frames`` frames, or as many as ``case.seconds`` allow (paced or not)."""
    if case.seconds is None:
        for index in range(case.frames):
            yield encoded[index % len(encoded)]
        return
    deadline = time.monotonic() + case.seconds
    index = 0
    while time.monotonic() < deadline:
        yield encoded[index % len(encoded)]
        index += 1


def own_cpu_seconds() -> float:
    """CPU time of this process (the client side of the cases)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_case(target: ServerProcess, case: Case, encoded: list[bytes]) -> Figures:
    cpu_before = target.cpu_seconds()
    client_before = own_cpu_seconds()
    started = time.monotonic()

    async def all_streams() -> list[ExtensionClient]:
        return await asyncio.gather(
            *(one_stream(target.address, case, encoded, i) for i in range(case.streams))
        )

    clients = asyncio.run(all_streams())
    wall = time.monotonic() - started
    cpu = target.cpu_seconds() - cpu_before
    client_cpu = own_cpu_seconds() - client_before
    latencies = np.array([x for c in clients for x in c.summary.latencies]) * 1000
    acknowledged = sum(c.summary.frames_acknowledged for c in clients)
    return Figures(
        fps=acknowledged / wall,
        p50_ms=float(np.percentile(latencies, 50)) if len(latencies) else 0.0,
        p99_ms=float(np.percentile(latencies, 99)) if len(latencies) else 0.0,
        cpu_s_per_1000=cpu / max(acknowledged, 1) * 1000,
        peak_mib=target.peak_mib(),
        wall_s=wall,
        frames=sum(c.summary.frames_sent for c in clients),
        acknowledged=acknowledged,
        violations=sum(len(c.summary.violations) for c in clients),
        extra={"client_cpu_s_per_1000": client_cpu / max(acknowledged, 1) * 1000},
    )


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return (
        f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}, {platform.machine()}"
    )
