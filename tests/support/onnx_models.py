"""Tiny ONNX models built with the onnx helper API, and what they must answer.

- The classifier averages each input channel and multiplies by 10 (or by
  ``weights``): its logits for a frame of one colour (r, g, b) are
  10 * (r, g, b) / 255, so its softmax is known.
- The detector (a YOLOv8-style output, attributes x boxes) has four fixed
  boxes; each box's class score is the mean of one channel, so which boxes
  pass the threshold depends on the frame's colour. Box 1 overlaps box 0 in
  the same class (NMS removes it), box 2 overlaps box 0 in another class
  (class-wise NMS keeps it).

Confidences match to TOLERANCE: the model averages thousands of pixels in
float32, which costs a few 1e-6 (one grey level off anywhere in the pipeline
would be 4e-3).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
TOLERANCE = 1e-4
LABELS = ["red", "green", "blue"]
COLOURS = [(200, 30, 60), (20, 220, 90), (40, 70, 250), (128, 128, 128), (250, 240, 10)]
# Detector boxes as cx, cy, w, h in the 64 x 64 input, and the class of each.
BOXES = [(16, 32, 16, 16), (18, 33, 16, 16), (18, 33, 16, 16), (48, 40, 24, 32)]
BOX_CLASS = [0, 0, 1, 2]
BOX_WEIGHT = [1.0, 0.5, 1.0, 1.0]


# --- models ---------------------------------------------------------------------


def save(model: onnx.ModelProto, path: Path) -> str:
    model.ir_version = 8  # readable by any onnxruntime >= 1.14
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return str(path)


def channel_means(nhwc: bool = False) -> list[onnx.NodeProto]:
    """Nodes from input X to M, the (N, 3) channel means."""
    nodes = []
    source = "X"
    if nhwc:
        nodes.append(helper.make_node("Transpose", ["X"], ["XT"], perm=[0, 3, 1, 2]))
        source = "XT"
    return [
        *nodes,
        helper.make_node("GlobalAveragePool", [source], ["P"]),
        helper.make_node("Flatten", ["P"], ["M"], axis=1),
    ]


def classifier(
    path: Path, shape: list | None = None, nhwc: bool = False, weights: np.ndarray | None = None
) -> str:
    shape = shape or ["N", 3, 32, 32]
    nodes = channel_means(nhwc)
    matrix = np.eye(3, dtype=np.float32) * 10 if weights is None else weights.astype(np.float32)
    weights_tensor = numpy_helper.from_array(matrix, "W")
    nodes.append(helper.make_node("MatMul", ["M", "W"], ["logits"]))
    graph = helper.make_graph(
        nodes,
        "classifier",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [shape[0], 3])],
        [weights_tensor],
    )
    return save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), path)


def unbatched_classifier(path: Path) -> str:
    """A 3-D input (C, H, W): no batch dimension."""
    nodes = [
        helper.make_node("ReduceMean", ["X"], ["M"], axes=[1, 2], keepdims=0),
        helper.make_node("Mul", ["M", "ten"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "unbatched",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [3])],
        [numpy_helper.from_array(np.array(10, dtype=np.float32), "ten")],
    )
    return save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), path)


def detector(path: Path, size: int | str = 64) -> str:
    anchors = len(BOXES)
    attributes = 4 + len(LABELS)
    weights = np.zeros((3, attributes, anchors), dtype=np.float32)
    bias = np.zeros((attributes, anchors), dtype=np.float32)
    for anchor, (box, cls, weight) in enumerate(zip(BOXES, BOX_CLASS, BOX_WEIGHT, strict=True)):
        bias[:4, anchor] = box
        weights[cls, 4 + cls, anchor] = weight
    nodes = channel_means()
    nodes += [
        helper.make_node("MatMul", ["M", "W"], ["flat"]),
        helper.make_node("Add", ["flat", "B"], ["biased"]),
        helper.make_node("Reshape", ["biased", "shape"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "detector",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["N", attributes, anchors])],
        [
            numpy_helper.from_array(weights.reshape(3, -1), "W"),
            numpy_helper.from_array(bias.reshape(-1), "B"),
            numpy_helper.from_array(np.array([-1, attributes, anchors], dtype=np.int64), "shape"),
        ],
    )
    return save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), path)


def flat_input(path: Path) -> str:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["X"], ["Y"])],
        "flat",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 10])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 10])],
    )
    return save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), path)


# --- what they answer ----------------------------------------------------------


def solid(colour: tuple[int, int, int], width: int = 64, height: int = 48) -> np.ndarray:
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[:] = colour
    return frame


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max())
    return exp / exp.sum()


def expected_classes(colour: tuple[int, int, int], top_k: int = 3) -> list[tuple[str, float]]:
    probabilities = softmax(10 * np.array(colour) / 255)
    order = np.argsort(-probabilities, kind="stable")[:top_k]
    return [(LABELS[i], float(probabilities[i])) for i in order]


def classes_of(inferences) -> list[tuple[str, float]]:
    return [(i.classification.tag.value, i.classification.tag.confidence) for i in inferences]


def assert_classes(got: list[tuple[str, float]], expected: list[tuple[str, float]]) -> None:
    assert [tag for tag, _ in got] == [tag for tag, _ in expected]
    for (_, confidence), (_, wanted) in zip(got, expected, strict=True):
        assert abs(confidence - wanted) <= TOLERANCE
