"""The model cases: a real network served from the model repository, against ONNX
Runtime alone on the same cores, in the same run.

The network is SqueezeNet 1.0 from the onnx wheel's backend test data (real
architecture, constant weights, 224x224 input; nothing downloaded), made
batch-dynamic here. Cameras send 416x416 RGB24 frames over shared memory, each
with one frame in flight (a camera that waits for its answer: a deeper window
only queues frames in front of the model and adds latency), at 15 fps or
unpaced; the server resizes, normalises and batches them. The reference is
ONNX Runtime alone (ort_alone.py, a process of its own) on preprocessed tensors
at its best session layout and batch size (the least CPU per frame); the model
is then served with that layout (configured for throughput on these cores, as
an operator would from the same measurement), and ours is compared with the
reference as ratios of frames per second and of CPU per frame.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import onnx
from lva_extension.client import StreamFormat

from bench.harness import Case, Figures, ServerProcess

MODEL = "squeezenet"
SOURCE = Path(onnx.__file__).parent / "backend/test/data/light/light_squeezenet.onnx"
# Up to all 32 cameras in a batch (split over the free sessions when it goes). The
# queue delay stays short: cameras that wait for their answer send nothing while it
# runs out, so every millisecond of it is a millisecond the sessions may stand idle.
BATCHING = {"maxBatchSize": 32, "maxQueueDelayMs": 5}
CONFIGURATION = json.dumps({"model": MODEL})
ROOT = Path(__file__).resolve().parent


def configure(repository: Path, best: dict[str, Any]) -> dict[str, Any]:
    """Serve the model with the session layout ONNX Runtime alone ran best. The batch
    size stays BATCHING's: ONNX Runtime's best batch on a CPU is small (1 to 4 here),
    and 32 cameras with batches that small would queue for many batch times; with
    batches of up to 32, split over the free sessions, a frame waits for about the
    batch that runs and its own. Returns the config written."""
    path = repository / MODEL / "config.json"
    config = json.loads(path.read_text())
    instances, threads = (int(x) for x in best["layout"].split("x"))
    config.update(instances=instances, threads=threads, batching=BATCHING)
    path.write_text(json.dumps(config, indent=2))
    return config


def prepare(directory: Path, **config: Any) -> Path:
    """A model repository holding SqueezeNet with a dynamic batch dimension."""
    model = onnx.load(str(SOURCE))
    initializers = {i.name for i in model.graph.initializer}
    (image,) = [i for i in model.graph.input if i.name not in initializers]
    for tensor in (image, model.graph.output[0]):
        tensor.type.tensor_type.shape.dim[0].dim_param = "N"
    folder = directory / MODEL
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))
    settings = {
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
        "batching": BATCHING,
        **config,
    }
    (folder / "config.json").write_text(json.dumps(settings, indent=2))
    return directory


def model_cases(quick: bool) -> list[Case]:
    seconds = 5.0 if quick else 10.0
    fmt = StreamFormat("raw", "rgb24", 416, 416)
    found = []
    for cameras in (1, 8, 32):
        for fps in (15.0, None):
            pace = f"{fps:g} fps" if fps else "unpaced"
            found.append(
                Case(
                    f"m{cameras}{'p' if fps else 'u'}",
                    f"{MODEL}: {cameras} camera(s), {pace}, shm",
                    fmt,
                    shm=True,
                    streams=cameras,
                    window=1,
                    fps=fps,
                    seconds=seconds,
                    configuration=CONFIGURATION,
                )
            )
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_commands(ours: list[str], repository: Path) -> dict[str, tuple[list[str], int]]:
    """Our server with batching across streams on, and off; each with a metrics port."""
    commands = {}
    for name, cross in (("ours", "true"), ("off", "false")):
        port = free_port()
        commands[name] = (
            [
                *ours,
                "--model-repository",
                str(repository),
                "--cross-stream-batching",
                cross,
                "--metrics-port",
                str(port),
                "--stats-interval-seconds",
                "0",
            ],
            port,
        )
    return commands


def ort_alone(repository: Path, seconds: float) -> dict[str, Any]:
    """ONNX Runtime alone, in a process of its own: every layout and batch size, each the
    median of three rounds of ``seconds``."""
    command = [
        sys.executable,
        str(ROOT / "ort_alone.py"),
        str(repository / MODEL / "model.onnx"),
        "--seconds",
        str(seconds),
        "--rounds",
        "3",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def paired_reference(reference: tuple[Path, dict[str, Any]]) -> tuple[float, float]:
    """ONNX Runtime alone in its best configuration, for a few seconds, now: the reference
    a case is paired with (the neighbours' load changes from minute to minute)."""
    repository, best = reference
    command = [
        sys.executable,
        str(ROOT / "ort_alone.py"),
        str(repository / MODEL / "model.onnx"),
        "--seconds",
        "3",
        "--rounds",
        "1",
        "--batches",
        str(best["batch"]),
        "--layouts",
        best["layout"],
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    best = json.loads(done.stdout)["best"]
    return float(best["fps"]), float(best["cpu_ms"])


def compare(figures: Figures, ort_fps: float, ort_cpu_ms: float) -> None:
    """Ratios to ONNX Runtime alone: frames per second, and CPU per frame (ONNX Runtime's
    CPU per frame over the server's and the client's): the share of ONNX Runtime's
    frames per second ours would reach with these cores to itself."""
    ours_cpu_ms = figures.cpu_s_per_1000 + figures.extra.get("client_cpu_s_per_1000", 0.0)
    figures.extra.update(
        ort_fps=ort_fps,
        ort_cpu_ms=ort_cpu_ms,
        ratio=figures.fps / ort_fps,
        cpu_ratio=ort_cpu_ms / ours_cpu_ms if ours_cpu_ms else 0.0,
    )


def batch_figures(target: ServerProcess, before: dict[str, float]) -> dict[str, float]:
    """Mean batch size, batch time and queue delay of the model during a case."""
    after = target.metrics()

    def delta(name: str) -> float:
        key = f'lva_extension_model_{name}{{model="{MODEL}"}}'
        return after.get(key, 0.0) - before.get(key, 0.0)

    batches = delta("batch_size_count") or 1.0
    delays = delta("queue_delay_seconds_count") or 1.0
    return {
        "mean_batch": delta("batch_size_sum") / batches,
        "batch_ms": delta("inference_seconds_sum") / batches * 1000,
        "queue_delay_ms": delta("queue_delay_seconds_sum") / delays * 1000,
    }


def table(results: dict[str, dict[str, Figures]], reference: dict[str, Any]) -> str:
    best = reference["best"]
    lines = [
        f"ONNX Runtime alone (its own process, preprocessed tensors): least CPU per frame"
        f" {best['cpu_ms']:.1f} ms at batch {best['batch']}, {best['layout']} (sessions x"
        f" threads), {best['fps']:.1f} fps; fps by layout and batch:"
        f" {json.dumps({k: {b: round(f) for b, f in v.items()} for k, v in reference['layouts'].items()})}"  # noqa: E501
    ]
    columns = ("fps", "p50 ms", "p99 ms", "batch", "batch ms", "srv ms", "cli ms", "fps/ORT")
    head = f"{'case':<46} {'server':<6} " + " ".join(f"{c:>8}" for c in columns) + "  CPU/ORT"
    lines += [head, "-" * len(head)]
    for title, by_server in results.items():
        for name, f in by_server.items():
            extra = f.extra
            lines.append(
                f"{title[:46]:<46} {name:<6} {f.fps:8.1f} {f.p50_ms:8.1f} {f.p99_ms:8.1f}"
                f" {extra.get('mean_batch', 0):8.1f} {extra.get('batch_ms', 0):8.1f}"
                f" {f.cpu_s_per_1000:8.2f} {extra.get('client_cpu_s_per_1000', 0):8.2f}"
                f" {extra.get('ratio', 0):8.0%} {extra.get('cpu_ratio', 0):8.0%}"
                + (f"  {f.violations} violations" if f.violations else "")
            )
    lines.append(
        "fps/ORT: our fps over ONNX Runtime alone's, run just before each case; CPU/ORT:"
        " its CPU per frame over ours (server + client): the share of its fps ours reaches"
        " with the cores to itself. srv/cli ms: CPU milliseconds per frame."
    )
    return "\n".join(lines)


def target_check(results: dict[str, dict[str, Figures]], reference: dict[str, Any]) -> str:
    """The issue's target at 32 cameras: >= 90 % of ONNX Runtime alone, and p99 within
    the queue delay plus two batch times."""
    lines = []
    for title, by_server in results.items():
        ours = by_server.get("ours")
        if ours is None or not title.startswith("m32"):
            continue
        extra = ours.extra
        bound = BATCHING["maxQueueDelayMs"] + 2 * extra.get("batch_ms", 0.0)
        lines.append(
            f"target, {title}: {extra.get('cpu_ratio', 0):.0%} of ONNX Runtime alone by CPU"
            f" per frame{_spread(extra, 'cpu_ratio')}, {extra.get('ratio', 0):.0%} by fps on"
            f" the shared machine{_spread(extra, 'ratio')} (>= 90%:"
            f" {'yes' if extra.get('cpu_ratio', 0) >= 0.9 else 'NO'}); p99 {ours.p99_ms:.0f} ms"
            f" against maxQueueDelayMs + 2 batch times = {bound:.0f} ms"
            f" ({'yes' if ours.p99_ms <= bound else 'NO'})"
        )
    return "\n".join(lines)


def _spread(extra: dict[str, float], key: str) -> str:
    if f"{key}_min" not in extra:
        return ""
    return f" (runs {extra[key + '_min']:.0%}-{extra[key + '_max']:.0%})"
