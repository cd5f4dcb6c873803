"""ONNX Runtime alone: the reference the model cases of bench/run.py are measured against.

    .venv/bin/python bench/ort_alone.py MODEL.onnx --seconds 1 --rounds 3 --batches 1 8 32 \
        --layouts 1x2 2x1

In a process of its own, on preprocessed tensors (random, of the model's
input shape): for each session layout (sessions run side by side x intra-op
threads each, configured as the server configures them) and batch size, the
frames per second and the CPU time per frame. Every configuration runs once
per round, the rounds one after the other, and each figure is the median of
its rounds (on a shared machine a single run says more about the neighbours
than about the model).
Prints one JSON object on stdout:
{"layouts": {"2x1": {"1": fps, "8": fps, ...}, ...}, "cpu_ms": {...}, "best": {...}}.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import threading
import time
from typing import Any

import numpy as np
import onnxruntime as ort


def session(model: str, threads: int) -> Any:
    # As lva_extension.processors.onnx.session.open_session configures it.
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if threads == 1:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def frames_per_second(sessions: list[Any], batch: int, seconds: float) -> tuple[float, float]:
    """(frames per second, CPU milliseconds per frame) of the sessions side by side."""
    tensor_input = sessions[0].get_inputs()[0]
    shape = [batch, *tensor_input.shape[1:]]
    tensor = np.random.default_rng(0).random(shape, dtype=np.float32)
    feeds = {tensor_input.name: tensor}
    for s in sessions:
        s.run(None, feeds)  # warm up
    counts = [0] * len(sessions)
    stop = time.perf_counter() + seconds

    def work(index: int) -> None:
        while time.perf_counter() < stop:
            sessions[index].run(None, feeds)
            counts[index] += batch

    started, cpu = time.perf_counter(), cpu_seconds()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(len(sessions))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    frames = sum(counts)
    return frames / (time.perf_counter() - started), (cpu_seconds() - cpu) / frames * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--seconds", type=float, default=1.0, help="per configuration and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--layouts", nargs="+", default=["1x2", "2x1"], help="SESSIONSxTHREADS")
    args = parser.parse_args()
    sessions = {}
    for layout in args.layouts:
        instances, threads = (int(x) for x in layout.split("x"))
        sessions[layout] = [session(args.model, threads) for _ in range(instances)]
    measured: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for _ in range(args.rounds):
        for layout in args.layouts:
            for batch in args.batches:
                figures = frames_per_second(sessions[layout], batch, args.seconds)
                measured.setdefault((layout, batch), []).append(figures)
    results, cpu = {}, {}
    for layout in args.layouts:
        runs = {b: measured[layout, b] for b in args.batches}
        results[layout] = {str(b): statistics.median(f for f, _ in runs[b]) for b in runs}
        cpu[layout] = {str(b): statistics.median(c for _, c in runs[b]) for b in runs}
    # The best configuration is the one that needs the least CPU per frame: with the
    # cores to itself it would run the most frames per second, and unlike the frames
    # per second of a shared machine that figure barely moves with the neighbours.
    layout, batch = min(((lay, b) for lay in cpu for b in cpu[lay]), key=lambda k: cpu[k[0]][k[1]])
    best = {
        "layout": layout,
        "batch": int(batch),
        "fps": results[layout][batch],
        "cpu_ms": cpu[layout][batch],
    }
    print(json.dumps({"layouts": results, "cpu_ms": cpu, "best": best}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
