"""Benchmark the extension server against an echo server, in the same run.

    .venv/bin/python bench/run.py            # every case, about a minute and a half
    .venv/bin/python bench/run.py --quick    # shorter runs of the same cases
    .venv/bin/python bench/run.py --only 1 2 --server-args --workers 2

Both servers run as separate processes and are driven by the project's own
client from this process. For each case it prints frames per second, latency
p50/p99, server CPU seconds per 1,000 frames, the server's peak memory, and the
ratio of our fps to echo's; the figures go to bench/results/latest.json (the
previous run is kept as previous.json and shown beside them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from lva_extension.client import ClientOptions, ExtensionClient, StreamFormat
from lva_extension.client.clips import dark_light_frames
from lva_extension.frames import encode

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
BIN = Path(sys.executable).parent
SERVING = re.compile(r"serving the LVA gRPC extension on \S+?:(\d+)")
TICKS = os.sysconf("SC_CLK_TCK")


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


def cases(quick: bool) -> list[Case]:
    scale = 0.3 if quick else 1.0
    n = lambda count: max(int(count * scale), 50)  # noqa: E731
    vga = StreamFormat("raw", "rgb24", 416, 416)
    hd = StreamFormat("raw", "bgr24", 1920, 1080)
    return [
        Case("1", "416x416 RGB24 shm, 8 in flight", vga, shm=True, frames=n(3000)),
        Case("2", "416x416 RGB24 embedded, 8 in flight", vga, frames=n(3000)),
        Case("3a", "1920x1080 BGR24 embedded", hd, frames=n(300), window=4),
        Case("3b", "1920x1080 BGR24 shm", hd, shm=True, frames=n(300), window=4),
        Case(
            "4",
            "32 streams x 15 fps x 10 s, shm",
            vga,
            shm=True,
            streams=32,
            fps=15,
            seconds=10 * (0.5 if quick else 1),
        ),
        Case("5", "one stream paced at 30 fps", vga, shm=True, fps=30, seconds=5 * scale + 1),
        Case("6", "JPG 640x360 embedded", StreamFormat("jpg", "rgb24", 640, 360), frames=n(1500)),
    ]


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
def server(command: list[str]) -> Iterator[ServerProcess]:
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
        yield ServerProcess(process, f"127.0.0.1:{match[1]}")
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
        max_message_bytes=256 * 1024 * 1024,
    )
    count = int(case.seconds * case.fps) if case.seconds and case.fps else case.frames
    client = ExtensionClient(options)
    async for _ in client.stream(encoded[i % len(encoded)] for i in range(count)):
        pass
    return client


def run_case(target: ServerProcess, case: Case, encoded: list[bytes]) -> Figures:
    cpu_before = target.cpu_seconds()
    started = time.monotonic()

    async def all_streams() -> list[ExtensionClient]:
        return await asyncio.gather(
            *(one_stream(target.address, case, encoded, i) for i in range(case.streams))
        )

    clients = asyncio.run(all_streams())
    wall = time.monotonic() - started
    cpu = target.cpu_seconds() - cpu_before
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


def table(results: dict[str, dict[str, Figures]], previous: dict) -> str:
    columns = ("fps", "p50 ms", "p99 ms", "cpu s/1k", "MiB", "vs echo", "before")
    head = f"{'case':<42} {'server':<8} " + " ".join(f"{c:>8}" for c in columns)
    lines = [head, "-" * len(head)]
    for title, by_server in results.items():
        echo = by_server.get("echo")
        for name, f in by_server.items():
            ratio = f"{f.fps / echo.fps:7.0%}" if echo and name != "echo" and echo.fps else ""
            before_fps = previous.get(title, {}).get(name, {}).get("fps")
            before = f"{before_fps:.1f}" if before_fps else ""
            lines.append(
                f"{title[:42]:<42} {name:<8} {f.fps:8.1f} {f.p50_ms:8.2f} {f.p99_ms:8.2f}"
                f" {f.cpu_s_per_1000:8.2f} {f.peak_mib:8.0f} {ratio:>8} {before:>8}"
                + (
                    f"  {f.acknowledged}/{f.frames} acked, {f.violations} violations"
                    if f.acknowledged != f.frames or f.violations
                    else ""
                )
                + (f"  wall {f.wall_s:.1f}s" if title.startswith("4") else "")
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--only", nargs="*", help="case numbers to run (1 2 3a 3b 4 5 6)")
    parser.add_argument(
        "--server-args", nargs=argparse.REMAINDER, default=[], help="for lva-extension serve"
    )
    args = parser.parse_args()

    chosen = [c for c in cases(args.quick) if not args.only or c.number in args.only]
    ours = [
        str(BIN / "lva-extension"),
        "serve",
        "--grpc-binding",
        "tcp://127.0.0.1:0",
        "--max-message-size-mib",
        "256",
        *args.server_args,
    ]
    echo = [sys.executable, str(ROOT / "echo_server.py"), "tcp://127.0.0.1:0"]
    results: dict[str, dict[str, Figures]] = {}
    for case in chosen:
        encoded = frames_for(case.fmt)
        title = f"{case.number}. {case.title}"
        results[title] = {}
        for name, command in (("echo", echo), ("ours", ours)):
            with server(command) as target:
                results[title][name] = run_case(target, case, encoded)
            print(
                f"  {title}: {name} {results[title][name].fps:.1f} fps", file=sys.stderr, flush=True
            )

    RESULTS.mkdir(exist_ok=True)
    latest = RESULTS / "latest.json"
    previous = json.loads(latest.read_text()) if latest.exists() else {}
    if latest.exists():
        shutil.copy(latest, RESULTS / "previous.json")
    document = {
        "machine": machine(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "server_args": args.server_args,
        "results": {t: {n: asdict(f) for n, f in by.items()} for t, by in results.items()},
    }
    latest.write_text(json.dumps(document, indent=2))
    print(f"machine: {document['machine']}")
    print(table(results, previous.get("results", {})))
    print(f"figures written to {latest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
