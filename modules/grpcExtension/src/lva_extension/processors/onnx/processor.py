"""The ``onnx`` processor: an ONNX image model, configured per stream.

    {"processor": "onnx", "model": "yolov8n.onnx", "decoder": "yolo",
     "labelsFile": "coco.names", "resize": "letterbox"}

The files are names in the model directory (``modelDir``, see files.py).
Frames are fitted to the model's input (its fixed height and width, or
``inputSize``), converted to its layout, colour order and scaling, run through
ONNX Runtime in real batches when the model has a batch dimension, and the
output is decoded (decoders.py). Every stream that names the same model
file shares one InferenceSession (thread-safe), loaded once per process; a
changed file is reloaded by the next stream that asks for it. The option
table is OnnxOptions below; docs/bring-your-own-model.md explains them.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ... import files
from ...errors import InvalidArgument, shorten
from ...frames.resize import RESIZE_MODES, fit
from ...proto.inferencing_pb2 import Inference
from ..base import Frame, Processor
from .decoders import DECODERS, ClassificationDecoder, Decoder, Dim, YoloDecoder, load_labels

log = logging.getLogger(__name__)

INPUT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(uint8)": np.uint8,
}


# Options that only one decoder understands.
DECODER_OPTIONS = {
    "topK": "classification",
    "softmax": "classification",
    "iouThreshold": "yolo",
    "maxDetections": "yolo",
    "yoloFormat": "yolo",
}


def _key(name: str) -> str:
    """A field name -> the key users write: labels_file -> labelsFile."""
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class OnnxOptions:
    """The options of the onnx processor; users write the keys in camelCase."""

    model: str
    decoder: str = "classification"
    labels: list[str] | None = None
    labels_file: str | None = None
    input_size: list[int] | None = None  # [width, height]
    layout: str = "NCHW"
    color_order: str = "RGB"
    scale: float | None = None  # default 1/255
    mean: float | list[float] | None = None  # default 0
    std: float | list[float] | None = None  # default 1
    resize: str = "stretch"
    pad_value: int = 114
    score_threshold: float | None = None  # default: the decoder's
    subtype: str = ""
    output: str | None = None  # default: the model's first output
    providers: list[str] | None = None  # default: all that onnxruntime has, best first
    threads: int = 0  # intra-op threads; 0: onnxruntime's choice
    top_k: int = 1
    softmax: bool | str = "auto"
    iou_threshold: float = 0.45
    max_detections: int = 100
    yolo_format: str = "auto"

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> OnnxOptions:
        names = {_key(f.name): f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - set(names))
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(names)}")
        decoder = options.get("decoder", "classification")
        if decoder not in DECODERS:
            raise ValueError(f"decoder: expected one of {', '.join(DECODERS)}, got {decoder!r}")
        for key in options:
            owner = DECODER_OPTIONS.get(key, decoder)
            if owner != decoder:
                raise ValueError(f"{key} applies to the {owner} decoder, not {decoder}")
        return cls(**{"model": None, **{names[key]: value for key, value in options.items()}})

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ValueError(
                "model: expected the name of an .onnx file in the model directory (modelDir),"
                ' e.g. "model": "m.onnx"'
            )
        _one_of("layout", self.layout, ("NCHW", "NHWC"))
        _one_of("colorOrder", self.color_order, ("RGB", "BGR"))
        _one_of("resize", self.resize, RESIZE_MODES)
        if self.input_size is not None and not (
            isinstance(self.input_size, list | tuple)
            and len(self.input_size) == 2
            and all(isinstance(x, int) and x > 0 for x in self.input_size)
        ):
            raise ValueError(f"inputSize: expected [width, height], got {self.input_size!r}")
        if not isinstance(self.pad_value, int) or not 0 <= self.pad_value <= 255:
            raise ValueError(f"padValue: expected 0 to 255, got {self.pad_value!r}")
        if self.providers is not None and not (
            isinstance(self.providers, list) and all(isinstance(p, str) for p in self.providers)
        ):
            raise ValueError(f"providers: expected a list of names, got {self.providers!r}")
        if not isinstance(self.threads, int) or self.threads < 0:
            raise ValueError(
                f"threads: expected 0 (ONNX Runtime's choice) or more, got {self.threads!r}"
            )

    def make_decoder(self) -> Decoder:
        text = None
        if self.labels_file is not None:
            text = files.current().read_text(self.labels_file, "labelsFile")
        labels = load_labels(self.labels, text)
        threshold = (
            {} if self.score_threshold is None else {"score_threshold": self.score_threshold}
        )
        if self.decoder == "yolo":
            return YoloDecoder(
                labels,
                self.subtype,
                iou_threshold=self.iou_threshold,
                max_detections=self.max_detections,
                yolo_format=self.yolo_format,
                **threshold,
            )
        return ClassificationDecoder(
            labels, self.subtype, top_k=self.top_k, softmax=self.softmax, **threshold
        )

    def normalisation(self) -> tuple[np.ndarray, np.ndarray]:
        """(a, b) such that the model's input is pixel * a + b, per channel."""
        scale = 1 / 255 if self.scale is None else _number("scale", self.scale)
        mean = _per_channel("mean", 0.0 if self.mean is None else self.mean)
        std = _per_channel("std", 1.0 if self.std is None else self.std)
        if (std == 0).any():
            raise ValueError(f"std: must not be 0, got {self.std!r}")
        return (scale / std).astype(np.float32), (-mean / std).astype(np.float32)


def _one_of(key: str, value: object, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{key}: expected one of {', '.join(allowed)}, got {value!r}")


def _number(key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key}: expected a number, got {value!r}")
    return float(value)


def _per_channel(key: str, value: object) -> np.ndarray:
    values = value if isinstance(value, list | tuple) else [value] * 3
    if len(values) != 3:
        raise ValueError(f"{key}: expected a number or 3 numbers (one per channel), got {value!r}")
    return np.array([_number(key, v) for v in values], dtype=np.float64)


# --- one InferenceSession per model file, shared by every stream -------------

_sessions: dict[tuple[str, tuple[str, ...], int], tuple[tuple[int, int], Any]] = {}
_sessions_lock = threading.Lock()


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise InvalidArgument(
            "the onnx processor needs ONNX Runtime: install lva-extension[onnx]"
            " (images: build with --build-arg EXTRAS=onnx)"
        ) from None
    return onnxruntime


def shared_session(model: str, providers: Sequence[str] | None, threads: int) -> Any:
    """The process's InferenceSession for this model file, loading it if needed.

    The file comes from the model directory (files.py), and ONNX Runtime gets its
    bytes, not its name: the name is not looked up twice.
    """
    ort = _onnxruntime()
    with files.current().open(model, "model") as opened:
        chosen = tuple(providers) if providers else tuple(ort.get_available_providers())
        key = (str(opened.path), chosen, threads)
        with _sessions_lock:
            cached = _sessions.get(key)
            if cached is not None and cached[0] == opened.stamp:
                return cached[1]
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            try:
                session = ort.InferenceSession(
                    opened.read(), sess_options=options, providers=list(chosen)
                )
            except Exception as error:  # onnxruntime raises its own types, all "cannot load"
                # Its message may quote the file: the log has it, the client does not.
                log.warning("cannot load ONNX model %s: %s", opened.path, error)
                raise InvalidArgument(
                    f"model: cannot load {shorten(repr(model))}: not an ONNX model this"
                    " ONNX Runtime can run (see the server log)"
                ) from None
            _sessions[key] = (opened.stamp, session)
    log.info("loaded ONNX model %s (providers %s)", opened.path, ", ".join(chosen))
    return session


# --- the processor ----------------------------------------------------------------


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


class OnnxProcessor(Processor):
    """Runs an ONNX image model on every frame and decodes its output."""

    thread_safe = True

    def __init__(self, **options: Any) -> None:
        self.options = OnnxOptions.parse(options)
        self.decoder = self.options.make_decoder()
        self.scale, self.offset = self.options.normalisation()
        self.session = shared_session(
            self.options.model, self.options.providers, self.options.threads
        )
        self.input = self._model_input()
        self.output_name = self._output_name()
        if self.input.dtype == np.uint8 and (
            self.options.scale is not None
            or self.options.mean is not None
            or self.options.std is not None
        ):
            raise ValueError("scale, mean and std do not apply: the model takes uint8 pixels")

    def _model_input(self) -> ModelInput:
        inputs = self.session.get_inputs()
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
        channels_last = self.options.layout == "NHWC"
        channels, height, width = (image[2], image[0], image[1]) if channels_last else image
        if isinstance(channels, int) and channels != 3:
            raise ValueError(
                f"input {tensor.name} of shape {dims}: with layout {self.options.layout} the"
                f" channel dimension must be 3, got {channels} (is the layout"
                f" {'NCHW' if channels_last else 'NHWC'}?)"
            )
        size = self._input_size(tensor.name, dims, height, width)
        batch = dims[0] if batched and isinstance(dims[0], int) else None
        return ModelInput(
            tensor.name, INPUT_TYPES[tensor.type], *size, channels_last, batch, batched
        )

    def _input_size(self, name: str, dims: list[Dim], height: Dim, width: Dim) -> tuple[int, int]:
        wanted = self.options.input_size
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

    def _output_name(self) -> str:
        outputs = {o.name: o for o in self.session.get_outputs()}
        name = self.options.output or next(iter(outputs))
        if name not in outputs:
            raise ValueError(
                f"output: the model has no output {name!r}; it has {', '.join(outputs)}"
            )
        dims = list(outputs[name].shape)
        self.decoder.check_output(dims[1:] if self.input.batched else dims)
        return name

    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        fitted = [
            fit(
                frame.image,
                self.input.width,
                self.input.height,
                self.options.resize,
                self.options.pad_value,
            )
            for frame in frames
        ]
        outputs = self._run(self._tensor(np.stack([image for image, _ in fitted])))
        return [
            self.decoder.decode(output, placement)
            for output, (_, placement) in zip(outputs, fitted, strict=True)
        ]

    def _tensor(self, images: np.ndarray) -> np.ndarray:
        """(n, h, w, 3) RGB uint8 -> the model's input (n, ...) in its layout, order and type."""
        if self.options.color_order == "BGR":
            images = images[..., ::-1]
        if self.input.dtype == np.uint8:
            tensor = images
        else:
            tensor = images.astype(np.float32) * self.scale + self.offset
        if not self.input.channels_last:
            tensor = tensor.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(tensor, dtype=self.input.dtype)

    def _run(self, tensor: np.ndarray) -> list[np.ndarray]:
        """One output per frame, in real batches of the size the model takes."""
        if not self.input.batched:
            return [self._infer(image)[0] for image in tensor]
        step = self.input.batch or len(tensor)
        outputs: list[np.ndarray] = []
        for start in range(0, len(tensor), step):
            chunk = tensor[start : start + step]
            if len(chunk) < step:  # a fixed batch size: pad the last chunk
                padding = np.zeros((step - len(chunk), *chunk.shape[1:]), dtype=chunk.dtype)
                outputs.extend(list(self._infer(np.concatenate([chunk, padding])))[: len(chunk)])
            else:
                outputs.extend(self._infer(chunk))
        return outputs

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        (output,) = self.session.run([self.output_name], {self.input.name: batch})
        result: np.ndarray = np.asarray(output)
        return result if self.input.batched else result[None]
