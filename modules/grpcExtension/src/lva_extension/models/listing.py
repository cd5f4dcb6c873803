"""``lva-extension models``: what the repository holds, each model loaded as the server would.

For each model: its file, input and outputs (as ONNX Runtime reads them),
how frames are fitted, its decoder and labels, its batching policy, its
sessions, and the options a stream may set; or why it does not load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..files import FileRoom
from .repository import load_version, model_folders, reason
from .version import ModelVersion, available_cores


def describe_repository(room: FileRoom) -> list[dict[str, Any]]:
    """One description per model folder, in name order (loading each: slow)."""
    cores = available_cores()
    described = []
    for name in model_folders(Path(room.root)):
        try:
            described.append(describe(load_version(room, name, cores)))
        except Exception as error:
            described.append({"name": name, "error": reason(error)})
    return described


def describe(version: ModelVersion) -> dict[str, Any]:
    options = version.config.options
    fitted = version.input
    return {
        "name": version.name,
        "file": options.model,
        "inputs": [_tensor(name, kind, shape) for name, kind, shape in version.shapes.inputs],
        "outputs": [_tensor(name, kind, shape) for name, kind, shape in version.shapes.outputs],
        "fitting": {
            "size": [fitted.width, fitted.height],
            "layout": "NHWC" if fitted.channels_last else "NCHW",
            "colorOrder": options.color_order,
            "resize": options.resize,
            "dtype": np.dtype(fitted.dtype).name,
        },
        "decoder": options.decoder,
        "decodedOutput": version.output,
        "labels": len(options.labels or []),
        "batching": {
            "maxBatchSize": version.batching.size,
            "maxQueueDelayMs": version.batching.max_queue_delay_ms,
            "preferredBatchSizes": list(version.batching.preferred_batch_sizes),
        },
        "sessions": {
            "instances": version.instances,
            "threads": version.threads,
            "providers": [p if isinstance(p, str) else p[0] for p in version.providers],
        },
        "streamOptions": sorted(version.config.stream_options),
    }


def _tensor(name: str, kind: str, shape: list[Any]) -> dict[str, Any]:
    return {"name": name, "type": kind, "shape": shape}


def as_text(described: list[dict[str, Any]]) -> str:
    """The descriptions as the command prints them."""
    if not described:
        return "no models"
    blocks = []
    for model in described:
        if "error" in model:
            blocks.append(f"{model['name']}  NOT LOADED: {model['error']}")
            continue
        fit = model["fitting"]
        batching = model["batching"]
        sessions = model["sessions"]
        lines = [f"{model['name']}  {model['file']}"]
        lines += [f"  input    {_shape(t)}" for t in model["inputs"]]
        lines += [f"  output   {_shape(t)}" for t in model["outputs"]]
        lines.append(
            f"  frames   {fit['size'][0]}x{fit['size'][1]} {fit['layout']} {fit['colorOrder']}"
            f" {fit['dtype']}, {fit['resize']}"
        )
        lines.append(
            f"  decoder  {model['decoder']} on {model['decodedOutput']}, {model['labels']} labels"
        )
        preferred = ", ".join(map(str, batching["preferredBatchSizes"])) or "none"
        lines.append(
            f"  batching maxBatchSize {batching['maxBatchSize']},"
            f" maxQueueDelayMs {batching['maxQueueDelayMs']:g}, preferredBatchSizes {preferred}"
        )
        lines.append(
            f"  sessions {sessions['instances']} x {sessions['threads']} thread(s)"
            f" on {', '.join(sessions['providers'])}"
        )
        lines.append(f"  streams may set: {', '.join(model['streamOptions']) or 'nothing'}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _shape(tensor: dict[str, Any]) -> str:
    kind = tensor["type"].removeprefix("tensor(").removesuffix(")")
    return f"{tensor['name']} {kind} {tensor['shape']}"
