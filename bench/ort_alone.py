"""ONNX Runtime alone: the reference the model cases of bench/run.py are measured against.

    .venv/bin/python bench/ort_alone.py MODEL.onnx --seconds 3 --batches 1 8 32 --layouts 1x2 2x1

In a process of its own, on preprocessed tensors (random, of the model's
input shape): for each session layout (sessions run side by side x intra-op
threads each, configured as the server configures them) and batch size, the
frames per second. Prints one JSON object on stdout:
{"layouts": {"2x1": {"1": fps, "8": fps, ...}, ...}, "best": {...}}.
"""

from __future__ import annotations

import argparse
import json
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


def frames_per_second(sessions: list[Any], batch: int, seconds: float) -> float:
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

    started = time.perf_counter()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(len(sessions))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--layouts", nargs="+", default=["1x2", "2x1"], help="SESSIONSxTHREADS")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    for layout in args.layouts:
        instances, threads = (int(x) for x in layout.split("x"))
        sessions = [session(args.model, threads) for _ in range(instances)]
        results[layout] = {
            str(batch): frames_per_second(sessions, batch, args.seconds) for batch in args.batches
        }
    layout, batch = max(
        ((lay, b) for lay in results for b in results[lay]), key=lambda k: results[k[0]][k[1]]
    )
    best = {"layout": layout, "batch": int(batch), "fps": results[layout][batch]}
    print(json.dumps({"layouts": results, "best": best}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
