"""ONNX Runtime sessions: opening one (execution providers, threads), reading what its
image input wants, and running frames through it in the batches the model takes.

ONNX Runtime itself is imported only when a model is opened.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import InvalidArgument
from .decoders import Decoder, Dim

log = logging.getLogger(__name__)

INPUT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(uint8)": np.uint8,
}

# Short names users may write, and the wheel that brings each provider.
PROVIDER_ALIASES = {
    "CPU": "CPUExecutionProvider",
    "CUDA": "CUDAExecutionProvider",
    "TensorRT": "TensorrtExecutionProvider",
    "OpenVINO": "OpenVINOExecutionProvider",
    "DirectML": "DmlExecutionProvider",
    "ROCm": "ROCMExecutionProvider",
    "CoreML": "CoreMLExecutionProvider",
}
PROVIDER_WHEELS = {
    "CUDAExecutionProvider": "onnxruntime-gpu",
    "TensorrtExecutionProvider": "onnxruntime-gpu (and TensorRT)",
    "OpenVINOExecutionProvider": "onnxruntime-openvino",
    "DmlExecutionProvider": "onnxruntime-directml",
    "ROCMExecutionProvider": "onnxruntime-rocm",
}

Provider = str | tuple[str, dict[str, str]]


def onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise InvalidArgument(
            "ONNX models need ONNX Runtime: install lva-extension[onnx]"
            " (images: build with --build-arg EXTRAS=onnx)"
        ) from None
    return onnxruntime


def resolve_providers(wanted: Sequence[Any] | None) -> list[Provider]:
    """The providers to pass to ONNX Runtime, checked against the installed wheel.

    Each entry is a name ("CUDAExecutionProvider", or short: "CUDA") or
    ``{"name": ..., "options": {...}}``; none given: all the wheel has, best first.
    """
    available = list(onnxruntime().get_available_providers())
    if not wanted:
        # All the wheel has, best first; but not the Azure provider, which sends
        # work to a remote endpoint rather than running it here.
        return [name for name in available if name != "AzureExecutionProvider"]
    chosen: list[Provider] = []
    for entry in wanted:
        name, options = _provider_entry(entry)
        name = PROVIDER_ALIASES.get(name, name)
        if name not in available:
            wheel = PROVIDER_WHEELS.get(name)
            hint = f"; it comes with {wheel}, installed instead of onnxruntime" if wheel else ""
            raise ValueError(
                f"providers: {name} is not in this ONNX Runtime"
                f" ({onnxruntime().__version__}, which has {', '.join(available)}){hint}"
            )
        chosen.append((name, options) if options else name)
    return chosen


def _provider_entry(entry: object) -> tuple[str, dict[str, str]]:
    if isinstance(entry, str):
        return entry, {}
    if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
        options = entry.get("options", {})
        if isinstance(options, Mapping) and set(entry) <= {"name", "options"}:
            return entry["name"], {str(k): str(v) for k, v in options.items()}
    raise ValueError(
        f'providers: expected a name or {{"name": ..., "options": {{...}}}}, got {entry!r}'
    )


def provider_names(providers: Sequence[Provider]) -> list[str]:
    return [p if isinstance(p, str) else p[0] for p in providers]


def open_session(source: str | bytes, providers: Sequence[Provider], threads: int) -> Any:
    """An InferenceSession; ``threads`` intra-op threads (0: ONNX Runtime's choice)."""
    ort = onnxruntime()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if threads == 1:
        # A single-threaded session never waits for helpers: nothing to spin for.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(source, sess_options=options, providers=list(providers))


@dataclass(frozen=True)
class ModelInput:
    """What the model's image input wants, read from the model."""

    name: str
    dtype: type
    width: int
    height: int
    channels_last: bool
    batch: int | None  # a fixed batch size; None: any (a dynamic batch dimension)
    batched: bool  # False: a 3-D input without a batch dimension

    @property
    def max_batch(self) -> int | None:
        """The most frames one run takes: 1 without a batch dimension, a fixed batch,
        or None for a dynamic one."""
        return self.batch if self.batched else 1

    def describe(self, dims: Sequence[Dim]) -> str:
        dtype = np.dtype(self.dtype).name
        layout = "NHWC" if self.channels_last else "NCHW"
        return f"{self.name} {dtype} {list(dims)} ({layout}, {self.width}x{self.height})"


def model_input(session: Any, layout: str, input_size: Sequence[int] | None) -> ModelInput:
    """The session's image input, checked against the options; ValueError says what is wrong."""
    inputs = session.get_inputs()
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs)
        raise ValueError(f"expected a model with one image input, got {len(inputs)}: {names}")
    tensor = inputs[0]
    dims: list[Dim] = list(tensor.shape)
    if tensor.type not in INPUT_TYPES:
        raise ValueError(
            f"input {tensor.name}: expected float, float16 or uint8 elements, got {tensor.type}"
        )
    if len(dims) not in (3, 4):
        raise ValueError(
            f"input {tensor.name}: expected an image tensor (N, C, H, W), (N, H, W, C)"
            f" or without N, got shape {dims}"
        )
    batched = len(dims) == 4
    image = dims[1:] if batched else dims
    channels_last = layout == "NHWC"
    channels, height, width = (image[2], image[0], image[1]) if channels_last else image
    if isinstance(channels, int) and channels != 3:
        raise ValueError(
            f"input {tensor.name} of shape {dims}: with layout {layout} the"
            f" channel dimension must be 3, got {channels} (is the layout"
            f" {'NCHW' if channels_last else 'NHWC'}?)"
        )
    size = _input_size(tensor.name, dims, height, width, input_size)
    batch = dims[0] if batched and isinstance(dims[0], int) else None
    return ModelInput(tensor.name, INPUT_TYPES[tensor.type], *size, channels_last, batch, batched)


def _input_size(
    name: str, dims: list[Dim], height: Dim, width: Dim, wanted: Sequence[int] | None
) -> tuple[int, int]:
    if isinstance(height, int) and isinstance(width, int):
        if wanted is not None and list(wanted) != [width, height]:
            raise ValueError(
                f"inputSize {list(wanted)} does not match input {name} of shape {dims}"
                f" ({width}x{height})"
            )
        return width, height
    if wanted is None:
        raise ValueError(
            f"input {name} of shape {dims} has no fixed height and width:"
            ' give "inputSize": [width, height]'
        )
    return wanted[0], wanted[1]


def output_name(session: Any, wanted: str | None, decoder: Decoder, batched: bool) -> str:
    """The output to decode (the first unless named), checked against the decoder."""
    outputs = {o.name: o for o in session.get_outputs()}
    name = wanted or next(iter(outputs))
    if name not in outputs:
        raise ValueError(f"output: the model has no output {name!r}; it has {', '.join(outputs)}")
    dims = list(outputs[name].shape)
    decoder.check_output(dims[1:] if batched else dims)
    return name


def run_frames(
    session: Any, model: ModelInput, output: str, tensor: np.ndarray, count: int
) -> list[np.ndarray]:
    """One output per frame of ``tensor[:count]``, in runs of the batch the model takes.

    A fixed batch size gets full runs (a short last one padded, unless the
    tensor already has the rows); a model without a batch dimension one frame a run.
    """

    def infer(batch: np.ndarray) -> np.ndarray:
        (result,) = session.run([output], {model.name: batch})
        return np.asarray(result)

    if not model.batched:
        return [infer(tensor[i]) for i in range(count)]
    step = model.batch or count
    outputs: list[np.ndarray] = []
    for start in range(0, count, step):
        chunk = tensor[start : start + step]
        if len(chunk) < step:  # a fixed batch size: pad the last run
            padding = np.zeros((step - len(chunk), *chunk.shape[1:]), dtype=chunk.dtype)
            chunk = np.concatenate([chunk, padding])
        outputs.extend(infer(chunk)[: min(step, count - start)])
    return outputs
