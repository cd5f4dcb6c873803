"""What the simulator's web view costs a running graph: its fps with and without a page open.

    .venv/bin/python bench/web_view.py              # about two and a half minutes
    .venv/bin/python bench/web_view.py --seconds 5  # shorter rounds

The InferencingWithGrpcExtension sample (motion detection on every frame, the
frames that move padded to 640x640 and sent through shared memory to a real
extension server in its own process with the squares processor, a signal
gate recording an asset) runs in this process, with its web view, on the
squares clip (640x480, textured), looped as fast as the graph takes it
(``--fast`` playback). Each round measures the gRPC extension node's answers
per second over the same span, in three set-ups, in turn:

- no page: nobody watches;
- page: headless Chromium shows the instance page, every frame it can take
  (two nodes' frames: motion detection's and the extension's);
- page, 10 fps: the same page with its frame cap at 10.

Rounds alternate the set-ups so that the machine's other load falls on all
of them alike; the medians are printed with their ratio to "no page", and
the page's own frames shown and skipped. A second part serves the clip from
the simulator's RTSP camera in real time (15 fps) with the page open and counts
the frames the graph dropped. Figures go to bench/results/web_view.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lva_simulator.graph.observer import NodeStats

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.browser import Browser, headless_chromium  # noqa: E402
from tests.support.processes import server_process  # noqa: E402
from tests.support.sample_edge import EXTENSION  # noqa: E402
from tests.support.simulator import RunningSimulator  # noqa: E402
from tests.support.watched_graph import INSTANCE, watched_graph, web_url  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SIZE = (640, 480)
SETUPS = ("no page", "page", "page, 10 fps")
TICKS = os.sysconf("SC_CLK_TCK")


def extension_stats(sim: RunningSimulator) -> NodeStats:
    async def read() -> NodeStats:
        stats = sim.simulator.module.runs[INSTANCE].stats()
        return next(s for s in stats if s.node == "grpcExtension")

    return sim.call(read())


def answers(sim: RunningSimulator) -> int:
    return extension_stats(sim).acks


def graph_fps(sim: RunningSimulator, seconds: float) -> tuple[float, float]:
    """Answers per second, and this process's CPU milliseconds per answer (the simulator)."""
    before, started, cpu = answers(sim), time.monotonic(), time.process_time()
    time.sleep(seconds)
    count = answers(sim) - before
    cpu_ms = 1000 * (time.process_time() - cpu) / max(count, 1)
    return count / (time.monotonic() - started), cpu_ms


def browser_cpu_seconds(browser: Browser) -> float:
    """CPU seconds used so far by Chromium's processes (its own process group)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # a process that ended meanwhile
        if int(fields[2]) == browser.process.pid:  # pgrp
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / TICKS


def page_counts(browser: Browser) -> tuple[int, int]:
    view = browser.evaluate("({...document.getElementById('view-stats').dataset})")
    return int(view.get("shown", 0)), int(view.get("skipped", 0))


def throughput(sim: RunningSimulator, browser: Browser, rounds: int, seconds: float) -> dict:
    figures: dict[str, list[float]] = {setup: [] for setup in SETUPS}
    cpu: dict[str, list[float]] = {setup: [] for setup in SETUPS}
    chromium: dict[str, list[float]] = {setup: [] for setup in SETUPS}
    page: dict[str, list[float]] = {setup: [] for setup in SETUPS[1:]}
    for round_number in range(rounds):
        for setup in SETUPS:
            if setup == "no page":
                browser.open("about:blank")
            else:
                browser.open(web_url(sim, f"/instances/{INSTANCE}"))
                cap = 0 if setup == "page" else 10
                browser.evaluate(f"document.getElementById('fps-cap').value = '{cap}'")
                browser.evaluate("document.querySelector('#view-controls button').click()")
                browser.wait_for("+document.getElementById('view-stats').dataset.shown > 0")
            time.sleep(1.0)  # settle
            shown_before = page_counts(browser) if setup != "no page" else (0, 0)
            chromium_before, started = browser_cpu_seconds(browser), time.monotonic()
            fps, cpu_ms = graph_fps(sim, seconds)
            chromium[setup].append(
                (browser_cpu_seconds(browser) - chromium_before) / (time.monotonic() - started)
            )
            figures[setup].append(fps)
            cpu[setup].append(cpu_ms)
            if setup != "no page":
                time.sleep(1.1)  # the page's counters come once a second
                shown, _ = page_counts(browser)
                page[setup].append((shown - shown_before[0]) / (seconds + 1.1))
            print(
                f"round {round_number + 1}, {setup:>13}: graph {fps:6.1f} fps,"
                f" simulator {cpu_ms:.2f} CPU ms per frame,"
                f" Chromium {chromium[setup][-1]:.2f} CPU s per s",
                flush=True,
            )
    base = statistics.median(figures["no page"])
    out = {}
    for setup in SETUPS:
        median = statistics.median(figures[setup])
        out[setup] = {
            "graph_fps": round(median, 1),
            "ratio": round(median / base, 3) if base else None,
            "simulator_cpu_ms_per_frame": round(statistics.median(cpu[setup]), 2),
            "chromium_cpu_seconds_per_second": round(statistics.median(chromium[setup]), 2),
            "rounds": [round(f, 1) for f in figures[setup]],
        }
        if setup in page:
            out[setup]["page_fps"] = round(statistics.median(page[setup]), 1)
    return out


def realtime(address: str, folder: Path, seconds: float) -> dict:
    with (
        watched_graph(folder, address, size=SIZE) as sim,  # the camera, in real time
        headless_chromium() as browser,
    ):
        browser.open(web_url(sim, f"/instances/{INSTANCE}"))
        browser.wait_for("+document.getElementById('view-stats').dataset.shown > 0")
        time.sleep(seconds)
        node = extension_stats(sim)
        shown, skipped = page_counts(browser)
    return {
        "frames_in": node.frames_in,
        "dropped": node.dropped,
        "page_shown": shown,
        "page_skipped": skipped,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of one measurement")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()

    env = {
        "PYTHONPATH": str(ROOT),  # the extension loads tests.support.squares by dotted path
        "authUsername": EXTENSION[0],
        "authPassword": EXTENSION[1],
    }
    with (
        server_process(env=env) as extension,
        tempfile.TemporaryDirectory(prefix="bench-web-") as folder,
    ):
        for part in ("fast", "realtime"):
            (Path(folder) / part).mkdir()
        with (
            watched_graph(
                Path(folder) / "fast",
                extension.address,
                camera=False,
                fast=True,
                size=SIZE,
                texture=True,
            ) as sim,
            headless_chromium() as browser,
        ):
            time.sleep(2.0)  # warm up
            figures = throughput(sim, browser, args.rounds, args.seconds)
        print("real time, 15 fps, page open ...", flush=True)
        camera = realtime(extension.address, Path(folder) / "realtime", args.seconds * 2)

    print(f"\ngraph fps (squares, {SIZE[0]}x{SIZE[1]}, --fast playback), median of rounds:")
    for setup, figure in figures.items():
        page = f", the page shows {figure['page_fps']} fps" if "page_fps" in figure else ""
        print(
            f"  {setup:>13}: {figure['graph_fps']:6.1f} fps (x{figure['ratio']}),"
            f" simulator {figure['simulator_cpu_ms_per_frame']} CPU ms per frame,"
            f" Chromium {figure['chromium_cpu_seconds_per_second']} CPU s per s{page}"
        )
    print(
        f"real time at 15 fps with the page open: {camera['frames_in']} frames in,"
        f" {camera['dropped']} dropped by the graph; the page showed {camera['page_shown']}"
        f" and skipped {camera['page_skipped']}"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "web_view.json").write_text(
        json.dumps({"throughput": figures, "realtime": camera}, indent=2) + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
