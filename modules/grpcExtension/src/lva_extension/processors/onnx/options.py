"""The options of an ONNX image model: how frames become its input, how its output is read.

The onnx processor takes them from ``defaultProcessor``; a model of the
repository from its ``config.json`` (lva_extension.models). Users write the
keys in camelCase; docs/bring-your-own-model.md explains each.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ... import files
from ...frames.resize import RESIZE_MODES
from .decoders import DECODERS, ClassificationDecoder, Decoder, YoloDecoder, load_labels

# Options that only one decoder understands.
DECODER_OPTIONS = {
    "topK": "classification",
    "softmax": "classification",
    "iouThreshold": "yolo",
    "maxDetections": "yolo",
    "yoloFormat": "yolo",
}

# Options that change only how one frame's output is read: a model of the
# repository may let streams set these (its "streamOptions").
DECODING_OPTIONS = ("scoreThreshold", "subtype", *DECODER_OPTIONS)


def camel_case(name: str) -> str:
    """A field name -> the key users write: labels_file -> labelsFile."""
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class OnnxOptions:
    """The options of an ONNX image model; users write the keys in camelCase."""

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
    providers: list[Any] | None = None  # default: all that onnxruntime has, best first
    threads: int = 0  # intra-op threads; 0: onnxruntime's choice
    top_k: int = 1
    softmax: bool | str = "auto"
    iou_threshold: float = 0.45
    max_detections: int = 100
    yolo_format: str = "auto"

    @classmethod
    def keys(cls) -> dict[str, str]:
        """The keys users write -> field names."""
        return {camel_case(f.name): f.name for f in dataclasses.fields(cls)}

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> OnnxOptions:
        names = cls.keys()
        unknown = sorted(set(options) - set(names))
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(names)}")
        decoder = options.get("decoder", "classification")
        if decoder not in DECODERS:
            raise ValueError(f"decoder: expected one of {', '.join(DECODERS)}, got {decoder!r}")
        check_decoder_options(options, decoder)
        return cls(**{"model": None, **{names[key]: value for key, value in options.items()}})

    def with_options(self, options: Mapping[str, Any]) -> OnnxOptions:
        """These options with some keys (camelCase) replaced; validated again."""
        names = self.keys()
        check_decoder_options(options, self.decoder)
        return dataclasses.replace(self, **{names[key]: value for key, value in options.items()})

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
        if self.providers is not None and not isinstance(self.providers, list):
            raise ValueError(f"providers: expected a list, got {self.providers!r}")
        if not isinstance(self.threads, int) or self.threads < 0:
            raise ValueError(
                f"threads: expected 0 (ONNX Runtime's choice) or more, got {self.threads!r}"
            )
        if not isinstance(self.subtype, str):
            raise ValueError(f"subtype: expected a string, got {self.subtype!r}")
        if self.score_threshold is not None:
            _number("scoreThreshold", self.score_threshold)

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

    @property
    def scaled(self) -> bool:
        """Whether scale, mean or std were given (they do not apply to uint8 inputs)."""
        return self.scale is not None or self.mean is not None or self.std is not None


def check_decoder_options(options: Mapping[str, Any], decoder: str) -> None:
    for key in options:
        owner = DECODER_OPTIONS.get(key, decoder)
        if owner != decoder:
            raise ValueError(f"{key} applies to the {owner} decoder, not {decoder}")


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
