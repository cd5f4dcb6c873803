"""Resizing frames: the one helper the client, the onnx processor, the model server and
the simulator share.

``resize_into`` resizes a frame into an array the caller owns (a slot of a
model's input tensor, say), and ``planes`` splits its channels for a model's
NCHW input; ``resize`` stretches a frame to a new array (LVA's
image scale mode "stretch"). ``fit`` puts a frame into a width x height canvas
by a mode: ``stretch`` scales width and height independently; ``letterbox``
keeps the aspect ratio and pads the rest with a grey level, centred (LVA's
scale mode "pad", and how YOLO models are trained). ``placement`` says where
a frame lands without touching pixels. A Placement remembers how a frame was
fitted, so boxes found in the canvas can be expressed as fractions of the
frame (the contract's Rectangle).

Bilinear resizing runs on OpenCV when it is installed (the ``opencv`` extra),
else on Pillow: on a 416x416 frame to 224x224 OpenCV takes about 0.17 ms and
Pillow 1.6 ms (bench/preprocess.py). OpenCV reads the frame where it lies (a
shared-memory view, row padding and BGR order included) and writes straight
into the destination; Pillow needs a packed copy first.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import ModuleType

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

    @property
    def inner_width(self) -> int:
        """Width of the frame's pixels in the canvas (the rest is padding)."""
        return round(self.frame_width * self.scale_x)

    @property
    def inner_height(self) -> int:
        return round(self.frame_height * self.scale_y)

    def to_frame(self, boxes: np.ndarray) -> np.ndarray:
        """Boxes (n, 4) as x1, y1, x2, y2 in canvas pixels -> l, t, w, h fractions of the frame."""
        x1 = ((boxes[:, 0] - self.pad_x) / self.scale_x / self.frame_width).clip(0, 1)
        y1 = ((boxes[:, 1] - self.pad_y) / self.scale_y / self.frame_height).clip(0, 1)
        x2 = ((boxes[:, 2] - self.pad_x) / self.scale_x / self.frame_width).clip(0, 1)
        y2 = ((boxes[:, 3] - self.pad_y) / self.scale_y / self.frame_height).clip(0, 1)
        return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)


@functools.cache
def _opencv() -> ModuleType | None:
    try:
        import cv2
    except ImportError:
        return None
    # Frames are resized on many threads at once (one per stream batch); OpenCV's
    # own thread pool on top would only make them fight for the same cores.
    cv2.setNumThreads(1)
    return cv2


def resize_backend() -> str:
    """The library that resizes frames in this process: "opencv" or "pillow"."""
    return "opencv" if _opencv() is not None else "pillow"


def resize_into(image: np.ndarray, out: np.ndarray, backend: str | None = None) -> np.ndarray:
    """Resize an RGB uint8 frame (h, w, 3) bilinearly into ``out`` (H, W, 3), uint8.

    Returns the RGB view of the result, which lies in ``out``'s memory but may
    hold the channels in reverse (a BGR frame is resized as it lies).
    ``backend`` ("opencv" or "pillow") overrides the choice, for comparisons.
    """
    cv2 = _opencv() if backend != "pillow" else None
    if cv2 is None:
        if backend == "opencv":
            raise RuntimeError("the opencv backend needs opencv-python-headless")
        height, width = out.shape[:2]
        resized = Image.fromarray(np.ascontiguousarray(image)).resize(
            (width, height), Image.Resampling.BILINEAR
        )
        out[...] = np.asarray(resized)
        return out
    source, reversed_channels = _packed_pixels(image)
    size = (out.shape[1], out.shape[0])
    if out.strides[1:] == (3, 1):  # packed pixels (rows may be apart): OpenCV writes there
        cv2.resize(source, size, dst=out)
    else:
        out[...] = cv2.resize(source, size)
    # ``out`` holds the channels in the order they lie in the frame.
    return out[..., ::-1] if reversed_channels else out


def _packed_pixels(image: np.ndarray) -> tuple[np.ndarray, bool]:
    """A view OpenCV accepts (rows may be padded, pixels packed), and whether it is BGR."""
    _, pixel_step, channel_step = image.strides
    if pixel_step == 3 and channel_step == 1:
        return image, False
    if pixel_step == 3 and channel_step == -1:  # an RGB view of BGR bytes
        return image[..., ::-1], True
    return np.ascontiguousarray(image), False  # 4-byte pixels (RGBA, ...): pack them once


def planes(image: np.ndarray) -> list[np.ndarray]:
    """The three channels of a frame (h, w, 3) as arrays of their own (h, w), in its order.

    Contiguous planes (OpenCV's split) make the per-channel passes of a model's
    NCHW input read memory in order; without OpenCV, strided views.
    """
    cv2 = _opencv()
    if cv2 is not None and image.strides[1:] == (3, 1):
        return list(cv2.split(image))
    if cv2 is not None and image.strides[1:] == (3, -1):  # reversed channels: split as they lie
        return list(cv2.split(image[..., ::-1]))[::-1]
    return [image[..., channel] for channel in range(3)]


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """An RGB uint8 frame stretched to width x height (bilinear); the frame itself if it fits."""
    if image.shape[:2] == (height, width):
        return image
    resized = resize_into(image, np.empty((height, width, 3), dtype=np.uint8))
    return np.ascontiguousarray(resized)  # a copy only when the channels lie reversed


def placement(frame_width: int, frame_height: int, width: int, height: int, mode: str) -> Placement:
    """Where a frame of this size lands in a width x height canvas by ``mode``."""
    if (frame_width, frame_height) == (width, height):
        return Placement(frame_width, frame_height, 1.0, 1.0, 0.0, 0.0)
    if mode == "stretch":
        return Placement(
            frame_width, frame_height, width / frame_width, height / frame_height, 0.0, 0.0
        )
    scale = min(width / frame_width, height / frame_height)
    inner_width = max(1, min(width, round(frame_width * scale)))
    inner_height = max(1, min(height, round(frame_height * scale)))
    left, top = (width - inner_width) // 2, (height - inner_height) // 2
    return Placement(
        frame_width,
        frame_height,
        inner_width / frame_width,
        inner_height / frame_height,
        float(left),
        float(top),
    )


def fit(
    image: np.ndarray, width: int, height: int, mode: str, pad_value: int = 0
) -> tuple[np.ndarray, Placement]:
    """An RGB frame -> a (height, width, 3) uint8 canvas by ``mode``, and its Placement."""
    frame_height, frame_width = image.shape[:2]
    where = placement(frame_width, frame_height, width, height, mode)
    if (where.inner_width, where.inner_height) == (width, height):
        return resize(image, width, height), where
    canvas = np.full((height, width, 3), pad_value, dtype=np.uint8)
    left, top = int(where.pad_x), int(where.pad_y)
    inner = canvas[top : top + where.inner_height, left : left + where.inner_width]
    resized = resize_into(image, inner)
    if resized is not inner:  # the channels lie reversed: put them in order
        inner[...] = resized
    return canvas, where
