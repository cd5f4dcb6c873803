"""Benchmark the extension server, in the same run as its references.

    .venv/bin/python bench/run.py                 # every case, about four minutes
    .venv/bin/python bench/run.py --quick         # shorter runs of the same cases
    .venv/bin/python bench/run.py --only 1 2 --server-args --workers 2
    .venv/bin/python bench/run.py --only m32u --repeat 5   # medians and spread

Transport cases (1-6) compare the server with an echo server that acknowledges
without reading; model cases (m...) serve a real network from the model
repository, with batching across streams on ("ours") and off ("off"), and
compare with ONNX Runtime alone on the same cores (model_case.py). Servers run
as separate processes, driven by the project's own client from this process.
For each case it prints frames per second, latency p50/p99, server CPU seconds
per 1,000 frames and the ratio to the reference; the figures go to
bench/results/latest.json (the previous run is kept as previous.json and shown
beside them). With --repeat, the cases and the references run that many times,
alternating, and the tables show medians with the spread (min-max) of fps.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from lva_extension.client import StreamFormat

if not __package__:  # run as a script (bench/ first on sys.path): make "bench" importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import model_case
from bench.harness import Case, Figures, frames_for, machine, run_case, server

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
BIN = Path(sys.executable).parent


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


def median_figures(runs: list[Figures]) -> Figures:
    """The median of each figure over repeated runs; the fps spread goes in ``extra``."""
    if len(runs) == 1:
        return runs[0]
    names = [k for k in asdict(runs[0]) if k != "extra"]
    values = {k: statistics.median(getattr(f, k) for f in runs) for k in names}
    extra = {k: statistics.median(f.extra.get(k, 0.0) for f in runs) for k in runs[0].extra}
    extra.update(fps_min=min(f.fps for f in runs), fps_max=max(f.fps for f in runs))
    for key in ("ratio", "cpu_ratio"):
        if key in extra:
            each = [f.extra[key] for f in runs]
            extra.update({f"{key}_min": min(each), f"{key}_max": max(each)})
    return replace(runs[0], **values, extra=extra)


def spread(results: dict[str, dict[str, Figures]]) -> str:
    lines = []
    for title, by_server in results.items():
        for name, f in by_server.items():
            if "fps_min" in f.extra:
                lines.append(
                    f"  {title[:46]} {name}: fps median {f.fps:.1f},"
                    f" min {f.extra['fps_min']:.1f}, max {f.extra['fps_max']:.1f}"
                )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument(
        "--only", nargs="*", help="case numbers (1 2 3a 3b 4 5 6 m1p m1u m8p m8u m32p m32u)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="run everything this many times")
    parser.add_argument(
        "--server-args", nargs=argparse.REMAINDER, default=[], help="for lva-extension serve"
    )
    args = parser.parse_args()

    wanted = lambda c: not args.only or c.number in args.only  # noqa: E731
    transport = [c for c in cases(args.quick) if wanted(c)]
    models = [c for c in model_case.model_cases(args.quick) if wanted(c)]
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
    runs: dict[str, dict[str, list[Figures]]] = {}
    references: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="lva-bench-models-") as scratch:
        repository = model_case.prepare(Path(scratch))
        servers = model_case.server_commands(ours, repository)
        for _ in range(args.repeat):
            for case in transport:
                run_against(case, {"echo": (echo, 0), "ours": (ours, 0)}, runs)
            if models:
                references.append(model_case.ort_alone(repository, 0.5 if args.quick else 1.0))
                best = references[-1]["best"]
                config = model_case.configure(repository, best)
                print(
                    f"  ONNX Runtime alone: {best['fps']:.1f} fps ({best['layout']}, batch"
                    f" {best['batch']}); served with {json.dumps(config['batching'])}",
                    file=sys.stderr,
                    flush=True,
                )
            for case in models:
                run_against(case, servers, runs, (repository, references[-1]["best"]))

    results = {t: {n: median_figures(f) for n, f in by.items()} for t, by in runs.items()}
    RESULTS.mkdir(exist_ok=True)
    latest = RESULTS / "latest.json"
    previous = json.loads(latest.read_text()) if latest.exists() else {}
    if latest.exists():
        shutil.copy(latest, RESULTS / "previous.json")
    document = {
        "machine": machine(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "server_args": args.server_args,
        "repeat": args.repeat,
        "results": {t: {n: asdict(f) for n, f in by.items()} for t, by in results.items()},
        "ort_alone": references,
    }
    latest.write_text(json.dumps(document, indent=2))
    print(f"machine: {document['machine']}")
    transport_results = {t: r for t, r in results.items() if not t.startswith("m")}
    model_results = {t: r for t, r in results.items() if t.startswith("m")}
    if transport_results:
        print(table(transport_results, previous.get("results", {})))
    if model_results:
        reference = median_reference(references)
        print(model_case.table(model_results, reference))
        print(model_case.target_check(model_results, reference))
    if args.repeat > 1:
        print(f"over {args.repeat} runs:")
        print(spread(results))
        ratios = [r["best"]["fps"] for r in references]
        if ratios:
            print(f"  ONNX Runtime alone: best fps per run {[round(r, 1) for r in ratios]}")
    print(f"figures written to {latest}")
    return 0


def run_against(
    case: Case,
    servers: dict[str, tuple[list[str], int]],
    runs: dict[str, dict[str, list[Figures]]],
    reference: tuple[Path, dict[str, Any]] | None = None,
) -> None:
    """One case against each server; its figures appended to ``runs``. With a
    ``reference`` (the model and ONNX Runtime's best configuration), ONNX Runtime
    alone runs in that configuration just before each server, for a paired ratio."""
    encoded = frames_for(case.fmt)
    title = f"{case.number}. {case.title}"
    for name, (command, metrics_port) in servers.items():
        paired = model_case.paired_reference(reference) if reference else None
        with server(command, metrics_port) as target:
            before = target.metrics()
            figures = run_case(target, case, encoded)
            if metrics_port:
                figures.extra.update(model_case.batch_figures(target, before))
        versus = ""
        if paired is not None:
            model_case.compare(figures, *paired)
            versus = (
                f" ({figures.extra['ratio']:.0%} of ORT alone just before;"
                f" CPU per frame {figures.extra['cpu_ratio']:.0%} as efficient)"
            )
        runs.setdefault(title, {}).setdefault(name, []).append(figures)
        print(f"  {title}: {name} {figures.fps:.1f} fps{versus}", file=sys.stderr, flush=True)


def median_reference(references: list[dict[str, Any]]) -> dict[str, Any]:
    """ONNX Runtime alone over the runs: the median of each layout and batch size; the
    best is the least CPU per frame."""
    layouts: dict[str, dict[str, float]] = {}
    for layout in references[0]["layouts"]:
        layouts[layout] = {
            batch: statistics.median(r["layouts"][layout][batch] for r in references)
            for batch in references[0]["layouts"][layout]
        }
    cpu = {
        layout: {
            batch: statistics.median(r["cpu_ms"][layout][batch] for r in references)
            for batch in references[0]["cpu_ms"][layout]
        }
        for layout in references[0]["cpu_ms"]
    }
    layout, batch = min(((lay, b) for lay in cpu for b in cpu[lay]), key=lambda k: cpu[k[0]][k[1]])
    best = {
        "layout": layout,
        "batch": int(batch),
        "fps": layouts[layout][batch],
        "cpu_ms": cpu[layout][batch],
    }
    return {"layouts": layouts, "cpu_ms": cpu, "best": best}


if __name__ == "__main__":
    sys.exit(main())
