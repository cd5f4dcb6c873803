"""The ``motion`` processor: moving regions, as MOTION inferences with boxes.

Per stream, on a downscaled grey frame (block means of BT.601 luma, about
``width`` pixels wide):

- a pixel is foreground when it differs from the background model by more
  than the threshold of the ``sensitivity`` (LVA's names: low, medium, high);
- the background follows slow changes (lighting) where nothing moves, and
  takes in a foreground pixel that has not changed from one frame to the next
  for ``stillFrames`` frames: something that stopped moving, or the place an
  object left (no ghost stays behind);
- foreground pixels are grouped into regions (8-connected on a grid of small
  cells, which also joins the fragments of one object), and each region of at
  least ``minArea`` (a fraction of the frame) becomes one MOTION inference
  with its box.

The first frame of a stream only starts the background: it has no motion.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import inferences
from ..proto.inferencing_pb2 import Inference
from .base import Frame, Processor

SENSITIVITY_THRESHOLDS = {"low": 40.0, "medium": 25.0, "high": 12.0}  # grey levels, 0..255
LEARNING_RATE = 0.05  # how fast the background follows a quiet scene, per frame
CELL = 4  # grid cell, in downscaled pixels: regions closer than this merge
BT601 = np.array([0.299, 0.587, 0.114], dtype=np.float32)

Region = tuple[int, int, int, int]  # x1, y1, x2, y2 (exclusive) in downscaled pixels


class MotionDetector(Processor):
    """Background subtraction with frame differencing; one instance per stream."""

    thread_safe = False  # it keeps the stream's background: frames in order

    def __init__(
        self,
        sensitivity: str = "medium",
        minArea: float = 0.001,  # noqa: N803 - the key users write in extensionConfiguration
        stillFrames: int = 15,  # noqa: N803
        width: int = 160,
    ) -> None:
        if sensitivity not in SENSITIVITY_THRESHOLDS:
            raise ValueError(
                f"sensitivity: expected one of {', '.join(SENSITIVITY_THRESHOLDS)},"
                f" got {sensitivity!r}"
            )
        if not 0 <= float(minArea) < 1:
            raise ValueError(f"minArea: expected a fraction of the frame, 0 to 1, got {minArea!r}")
        if not isinstance(stillFrames, int) or stillFrames < 1:
            raise ValueError(f"stillFrames: expected an integer of at least 1, got {stillFrames!r}")
        if not isinstance(width, int) or width < 8:
            raise ValueError(f"width: expected an integer of at least 8, got {width!r}")
        self.threshold = SENSITIVITY_THRESHOLDS[sensitivity]
        self.min_area = float(minArea)
        self.still_frames = stillFrames
        self.width = width
        self._background: np.ndarray | None = None
        self._previous = np.zeros(0, dtype=np.float32)
        self._still = np.zeros(0, dtype=np.int32)  # frames each pixel has not changed

    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        return [self._detect(frame.image) for frame in frames]

    def _detect(self, image: np.ndarray) -> list[Inference]:
        factor = max(1, image.shape[1] // self.width)
        grey = downscaled_grey(image, factor)
        background = self._background
        if background is None or background.shape != grey.shape:
            self._start(grey)
            return []
        foreground = np.abs(grey - background) > self.threshold
        changed = np.abs(grey - self._previous) > self.threshold
        self._still = np.where(changed, 0, self._still + 1)
        quiet = ~foreground
        background[quiet] += LEARNING_RATE * (grey[quiet] - background[quiet])
        settled = foreground & (self._still >= self.still_frames)
        background[settled] = grey[settled]
        foreground &= ~settled
        self._previous = grey
        return self._inferences(foreground, factor, image.shape[1], image.shape[0])

    def _start(self, grey: np.ndarray) -> None:
        self._background = grey.copy()
        self._previous = grey
        self._still = np.zeros(grey.shape, dtype=np.int32)

    def _inferences(
        self, mask: np.ndarray, factor: int, width: int, height: int
    ) -> list[Inference]:
        least = self.min_area * mask.size
        found = []
        for x1, y1, x2, y2, pixels in regions(mask):
            if pixels >= max(least, 1):
                box = (x1 * factor / width, y1 * factor / height)
                size = ((x2 - x1) * factor / width, (y2 - y1) * factor / height)
                found.append(inferences.motion((*box, *size)))
        return found


def downscaled_grey(image: np.ndarray, factor: int) -> np.ndarray:
    """BT.601 luma of an RGB uint8 image, averaged over factor x factor blocks (float32)."""
    height, width = image.shape[0] // factor, image.shape[1] // factor
    crop = image[: height * factor, : width * factor]
    if factor == 1:
        return crop.astype(np.float32) @ BT601
    # Sum the rows of each block, then the columns: two cheap reductions.
    rows = crop.reshape(height, factor, width * factor, 3).sum(axis=1, dtype=np.uint32)
    blocks = rows.reshape(height, width, factor, 3).sum(axis=2, dtype=np.uint32)
    return (blocks.astype(np.float32) @ BT601) / (factor * factor)


def regions(mask: np.ndarray) -> list[tuple[int, int, int, int, int]]:
    """Groups of foreground pixels: (x1, y1, x2, y2 exclusive, pixel count) each."""
    height, width = mask.shape
    grid_height, grid_width = -(-height // CELL), -(-width // CELL)
    padded = np.zeros((grid_height * CELL, grid_width * CELL), dtype=bool)
    padded[:height, :width] = mask
    cells = padded.reshape(grid_height, CELL, grid_width, CELL)
    counts = cells.sum(axis=(1, 3))
    labels = label_cells(counts > 0)
    # Per cell, the first and last foreground row and column inside it.
    rows = np.asarray(cells.any(axis=3))  # (grid_height, CELL, grid_width)
    columns = np.asarray(cells.any(axis=1))  # (grid_height, grid_width, CELL)
    offset_y = np.arange(grid_height)[:, None] * CELL
    offset_x = np.arange(grid_width)[None, :] * CELL
    top = offset_y + rows.argmax(axis=1)
    bottom = offset_y + CELL - rows[:, ::-1].argmax(axis=1)
    left = offset_x + columns.argmax(axis=2)
    right = offset_x + CELL - columns[:, :, ::-1].argmax(axis=2)
    found = []
    for label in np.unique(labels[labels >= 0]):
        member = labels == label
        found.append(
            (
                int(left[member].min()),
                int(top[member].min()),
                int(right[member].max()),
                int(bottom[member].max()),
                int(counts[member].sum()),
            )
        )
    return found


def label_cells(active: np.ndarray) -> np.ndarray:
    """8-connected components of a small boolean grid: a label per cell, -1 if inactive.

    Every active cell starts with its own index and repeatedly takes the
    smallest label among its active neighbours, until nothing changes.
    """
    height, width = active.shape
    none = height * width
    labels = np.where(active, np.arange(none).reshape(height, width), none)
    while True:
        padded = np.pad(labels, 1, constant_values=none)
        smallest = labels.copy()
        for dy in range(3):
            for dx in range(3):
                np.minimum(smallest, padded[dy : dy + height, dx : dx + width], out=smallest)
        smallest = np.where(active, smallest, none)
        if np.array_equal(smallest, labels):
            return np.where(active, labels, -1)
        labels = smallest
