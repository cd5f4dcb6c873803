"""Resizing frames: the one helper the client, the onnx processor and the simulator share.

``resize`` stretches a frame to a size (LVA's image scale mode "stretch").
``fit`` puts a frame into a width x height canvas by a mode: ``stretch``
scales width and height independently; ``letterbox`` keeps the aspect ratio
and pads the rest with a grey level, centred (LVA's scale mode "pad", and how
YOLO models are trained). A Placement remembers how a frame was fitted, so
boxes found in the canvas can be expressed as fractions of the frame (the
contract's Rectangle).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

RESIZE_MODES = ("stretch", "letterbox")


@dataclass(frozen=True)
class Placement:
    """Where a frame landed in the canvas: canvas = frame * scale + pad."""

    frame_width: int
    frame_height: int
    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float

    def to_frame(self, boxes: np.ndarray) -> np.ndarray:
        """Boxes (n, 4) as x1, y1, x2, y2 in canvas pixels -> l, t, w, h fractions of the frame."""
        x1 = ((boxes[:, 0] - self.pad_x) / self.scale_x / self.frame_width).clip(0, 1)
        y1 = ((boxes[:, 1] - self.pad_y) / self.scale_y / self.frame_height).clip(0, 1)
        x2 = ((boxes[:, 2] - self.pad_x) / self.scale_x / self.frame_width).clip(0, 1)
        y2 = ((boxes[:, 3] - self.pad_y) / self.scale_y / self.frame_height).clip(0, 1)
        return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """An RGB uint8 frame stretched to width x height (bilinear); the frame itself if it fits."""
    if image.shape[:2] == (height, width):
        return image
    resized = Image.fromarray(np.ascontiguousarray(image)).resize(
        (width, height), Image.Resampling.BILINEAR
    )
    return np.asarray(resized)


def fit(
    image: np.ndarray, width: int, height: int, mode: str, pad_value: int = 0
) -> tuple[np.ndarray, Placement]:
    """An RGB frame -> a (height, width, 3) uint8 canvas by ``mode``, and its Placement."""
    frame_height, frame_width = image.shape[:2]
    if (frame_width, frame_height) == (width, height):
        return image, Placement(frame_width, frame_height, 1.0, 1.0, 0.0, 0.0)
    if mode == "stretch":
        placement = Placement(
            frame_width, frame_height, width / frame_width, height / frame_height, 0.0, 0.0
        )
        return resize(image, width, height), placement
    scale = min(width / frame_width, height / frame_height)
    inner_width = max(1, min(width, round(frame_width * scale)))
    inner_height = max(1, min(height, round(frame_height * scale)))
    left, top = (width - inner_width) // 2, (height - inner_height) // 2
    canvas = np.full((height, width, 3), pad_value, dtype=np.uint8)
    canvas[top : top + inner_height, left : left + inner_width] = resize(
        image, inner_width, inner_height
    )
    placement = Placement(
        frame_width,
        frame_height,
        inner_width / frame_width,
        inner_height / frame_height,
        float(left),
        float(top),
    )
    return canvas, placement
