"""The LVA documentation's sample processor: is the frame dark or light?"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import inferences
from ..proto.inferencing_pb2 import Inference
from .base import Frame, Processor

# ITU-R BT.601 luma weights of R, G and B.
BT601 = np.array([0.299, 0.587, 0.114])
_ROWS_PER_UINT16_SUM = 65535 // 255


def channel_sums(image: np.ndarray) -> np.ndarray:
    """Exact sums of the R, G and B channels of an RGB uint8 image (or view).

    numpy reduces fastest along contiguous memory, so the sum follows the
    frame's own layout: a BGR view is summed as the RGB order it reverses, and
    packed 3-byte pixels row by row; other layouts one channel at a time.
    """
    reversed_channels = image.strides[2] < 0
    view = image[:, :, ::-1] if reversed_channels else image
    if view.strides[2] == 1 and view.strides[1] == 3:
        # Rows as flat bytes (a view: the pixels of a row are contiguous), summed
        # column by column in blocks of 257 rows: 257 x 255 still fits the uint16
        # that numpy adds fastest; the blocks add up in uint32 (16 million rows).
        height, width = view.shape[:2]
        rows = view.reshape(height, width * 3)
        columns = np.zeros(width * 3, dtype=np.uint32)
        for top in range(0, height, _ROWS_PER_UINT16_SUM):
            block = rows[top : top + _ROWS_PER_UINT16_SUM].sum(axis=0, dtype=np.uint16)
            np.add(columns, block, out=columns, casting="unsafe")
        sums = columns.reshape(width, 3).sum(axis=0, dtype=np.uint64)
    else:
        sums = np.array([view[:, :, c].sum(dtype=np.uint64) for c in range(3)])
    return sums[::-1] if reversed_channels else sums


def mean_luma(image: np.ndarray) -> float:
    """Mean BT.601 luma of an RGB uint8 image, 0..255.

    Luma is linear in R, G and B, so the mean of the per-pixel luma equals the
    luma of the per-channel means: one integer sum per channel, no float image.
    """
    height, width = image.shape[:2]
    return float(channel_sums(image) @ BT601) / (height * width)


class ColorIntensity(Processor):
    """A frame whose mean luma is below ``threshold`` is ``dark``, else ``light``."""

    thread_safe = True

    def __init__(self, threshold: float = 127.0) -> None:
        if not 0 <= float(threshold) <= 255:
            raise ValueError(f"threshold must be between 0 and 255, got {threshold}")
        self.threshold = float(threshold)
        # Built once: the server copies inferences into each answer.
        self._dark = inferences.classification("dark", confidence=1.0, subtype="colorIntensity")
        self._light = inferences.classification("light", confidence=1.0, subtype="colorIntensity")

    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        return [[self._classify(frame.image)] for frame in frames]

    def _classify(self, image: np.ndarray) -> Inference:
        return self._dark if mean_luma(image) < self.threshold else self._light
