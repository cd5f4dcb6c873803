"""Turning one frame's model output into inferences: classification and YOLO.

A decoder is configured once, checks the model's output shape when the stream
starts (so a mismatch with the labels is an error then, not garbage later),
and decodes the output of one frame (batch axis removed).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from ... import inferences
from ...errors import quote
from ...frames.resize import Placement
from ...proto.inferencing_pb2 import Inference

Dim = int | str | None  # onnxruntime shapes: a size, a symbolic name, or unknown
MAX_CANDIDATES = 4096  # boxes kept for NMS, best first: bounds its cost
YOLO_FORMATS = ("auto", "v5", "v8")


def load_labels(labels: Sequence[str] | None, labels_text: str | None) -> list[str]:
    """Labels from the options: a list, or the text of a file with one label per line."""
    if labels is not None and labels_text is not None:
        raise ValueError('give "labels" or "labelsFile", not both')
    if labels_text is not None:
        lines = labels_text.splitlines()
        while lines and not lines[-1].strip():
            lines.pop()
        return [line.strip() for line in lines]
    if labels is None:
        return []
    if not isinstance(labels, list | tuple) or not all(isinstance(x, str) for x in labels):
        raise ValueError(f"labels: expected a list of strings, got {quote(labels)}")
    return list(labels)


def _fixed(dims: Sequence[Dim]) -> list[int] | None:
    """The dims as ints, or None if any is symbolic or unknown."""
    return (
        [d for d in dims if isinstance(d, int)] if all(isinstance(d, int) for d in dims) else None
    )


class Decoder(ABC):
    """Decodes one frame's output tensor into a list of inferences."""

    def __init__(self, labels: list[str], subtype: str) -> None:
        self.labels = labels
        self.subtype = subtype

    def label(self, index: int) -> str:
        return self.labels[index] if index < len(self.labels) else str(index)

    @abstractmethod
    def check_output(self, dims: Sequence[Dim]) -> None:
        """Raise ValueError if an output of these dims (per frame) cannot be decoded."""

    @abstractmethod
    def decode(self, output: np.ndarray, placement: Placement) -> list[Inference]:
        """One frame's output (batch axis removed) -> its inferences."""


class ClassificationDecoder(Decoder):
    """Scores per class -> the top-k classes as CLASSIFICATION inferences."""

    def __init__(
        self,
        labels: list[str],
        subtype: str = "",
        top_k: int = 1,
        softmax: bool | str = "auto",
        score_threshold: float = 0.0,
    ) -> None:
        super().__init__(labels, subtype)
        if not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"topK: expected an integer of at least 1, got {top_k!r}")
        if softmax not in (True, False, "auto"):
            raise ValueError(f'softmax: expected true, false or "auto", got {softmax!r}')
        self.top_k = top_k
        self.softmax = softmax
        self.score_threshold = float(score_threshold)

    def check_output(self, dims: Sequence[Dim]) -> None:
        fixed = _fixed(dims)
        if fixed is None or not self.labels:
            return
        classes = int(np.prod(fixed))
        if classes != len(self.labels):
            raise ValueError(
                f"the model's output {list(dims)} scores {classes} classes,"
                f" but {len(self.labels)} labels were given"
            )

    def decode(self, output: np.ndarray, placement: Placement) -> list[Inference]:
        scores = output.astype(np.float64).ravel()
        if self._needs_softmax(scores):
            exp = np.exp(scores - scores.max())
            scores = exp / exp.sum()
        best = np.argsort(-scores, kind="stable")[: self.top_k]
        return [
            inferences.classification(self.label(int(i)), float(scores[i]), self.subtype)
            for i in best
            if scores[i] >= self.score_threshold
        ]

    def _needs_softmax(self, scores: np.ndarray) -> bool:
        if self.softmax != "auto":
            return bool(self.softmax)
        # Already probabilities (the model ends with a Softmax)? Then leave them.
        is_distribution = scores.min() >= 0 and abs(scores.sum() - 1) < 1e-3
        return not is_distribution


class YoloDecoder(Decoder):
    """YOLO boxes -> ENTITY inferences, after a score threshold and class-wise NMS.

    The output of a frame is a 2-D array of boxes by attributes, in either
    orientation. Each box is ``cx, cy, w, h`` in model input pixels, then
    per-class scores; ``v5`` outputs (YOLOv5/v7: 25200 x 85) have an
    objectness score before the class scores, ``v8`` outputs (YOLOv8/v11:
    84 x 8400) do not. With labels, the axis of 4 + len(labels) (v8) or
    5 + len(labels) (v5) attributes tells the format and orientation; without,
    the smaller axis holds the attributes, ``v8`` if it comes first.
    """

    def __init__(
        self,
        labels: list[str],
        subtype: str = "",
        score_threshold: float = 0.25,
        iou_threshold: float = 0.45,
        max_detections: int = 100,
        yolo_format: str = "auto",
    ) -> None:
        super().__init__(labels, subtype)
        if yolo_format not in YOLO_FORMATS:
            raise ValueError(
                f"yoloFormat: expected one of {', '.join(YOLO_FORMATS)}, got {yolo_format!r}"
            )
        if not 0 <= float(iou_threshold) <= 1:
            raise ValueError(f"iouThreshold: expected 0 to 1, got {iou_threshold!r}")
        if not isinstance(max_detections, int) or max_detections < 1:
            raise ValueError(
                f"maxDetections: expected an integer of at least 1, got {max_detections!r}"
            )
        self.score_threshold = float(score_threshold)
        self.iou_threshold = float(iou_threshold)
        self.max_detections = max_detections
        self.yolo_format = yolo_format

    def check_output(self, dims: Sequence[Dim]) -> None:
        if len(dims) != 2:
            raise ValueError(
                f"the yolo decoder expects an output of boxes by attributes per frame,"
                f" got an output of shape {list(dims)} per frame"
            )
        if self.labels and any(isinstance(d, int) for d in dims) and self._layout(dims) is None:
            raise ValueError(self._mismatch(dims))

    def _layout(self, dims: Sequence[Dim]) -> tuple[int, str] | None:
        """(the axis of the attributes, the format) of a per-frame output, if known."""
        formats = ["v8", "v5"] if self.yolo_format == "auto" else [self.yolo_format]
        if self.labels:
            # The labels say how many attributes a box has: find that axis.
            for fmt in formats:
                extra = 5 if fmt == "v5" else 4
                for axis in (0, 1) if fmt == "v8" else (1, 0):
                    if dims[axis] == extra + len(self.labels):
                        return axis, fmt
            return None
        first, second = dims
        if isinstance(first, int) and isinstance(second, int):
            axis = 0 if first < second else 1  # there are more boxes than attributes
        elif isinstance(first, int) or isinstance(second, int):
            axis = 0 if isinstance(first, int) else 1  # the number of boxes is dynamic
        else:
            return None
        return axis, formats[0] if self.yolo_format != "auto" else ("v8" if axis == 0 else "v5")

    def _mismatch(self, dims: Sequence[Dim]) -> str:
        count = len(self.labels)
        return (
            f"the model's output {list(dims)} per frame has no axis of {4 + count} (v8)"
            f" or {5 + count} (v5) attributes per box, as {count} labels need"
        )

    def decode(self, output: np.ndarray, placement: Placement) -> list[Inference]:
        layout = self._layout(output.shape) if output.ndim == 2 else None
        if layout is None:
            raise ValueError(f"yolo: cannot decode this output: {self._mismatch(output.shape)}")
        axis, fmt = layout
        rows = (output.T if axis == 0 else output).astype(np.float32)
        # v5: class scores times objectness; v8: class scores.
        class_scores = rows[:, 5:] * rows[:, 4:5] if fmt == "v5" else rows[:, 4:]
        if class_scores.shape[1] == 0:
            return []
        classes = class_scores.argmax(axis=1)
        scores = class_scores[np.arange(len(rows)), classes]
        chosen = np.flatnonzero(scores >= self.score_threshold)
        chosen = chosen[np.argsort(-scores[chosen], kind="stable")][:MAX_CANDIDATES]
        boxes = _corners(rows[chosen, :4])
        kept = chosen[class_nms(boxes, scores[chosen], classes[chosen], self.iou_threshold)]
        kept = kept[: self.max_detections]
        frame_boxes = placement.to_frame(_corners(rows[kept, :4]))
        return [
            inferences.entity(
                self.label(int(classes[i])),
                (left, top, width, height),
                float(scores[i]),
                self.subtype,
            )
            for i, (left, top, width, height) in zip(kept, frame_boxes.tolist(), strict=True)
        ]


def _corners(centred: np.ndarray) -> np.ndarray:
    """cx, cy, w, h -> x1, y1, x2, y2."""
    half = centred[:, 2:4] / 2
    return np.concatenate([centred[:, :2] - half, centred[:, :2] + half], axis=1)


def class_nms(
    boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_threshold: float
) -> np.ndarray:
    """Indices of the boxes kept by greedy NMS within each class, best score first."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    # Shift each class to its own region of the plane: boxes of different
    # classes then never overlap, and one NMS pass does every class.
    span = float(np.abs(boxes).max()) * 2 + 1
    shifted = boxes + (classes.astype(np.float64) * span)[:, None]
    return nms(shifted, scores, iou_threshold)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; ``boxes`` as x1, y1, x2, y2."""
    x1, y1, x2, y2 = (boxes[:, i] for i in range(4))
    areas = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        width = np.maximum(np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]), 0)
        height = np.maximum(np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]), 0)
        overlap = width * height
        union = areas[best] + areas[rest] - overlap
        iou = np.divide(overlap, union, out=np.zeros_like(overlap), where=union > 0)
        order = rest[iou <= iou_threshold]
    return np.array(keep, dtype=np.int64)


DECODERS: dict[str, type[Decoder]] = {
    "classification": ClassificationDecoder,
    "yolo": YoloDecoder,
}
