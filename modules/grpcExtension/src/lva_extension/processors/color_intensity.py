"""The LVA documentation's sample processor: is the frame dark or light?"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import inferences
from ..proto.inferencing_pb2 import Inference
from .base import Frame, Processor

# ITU-R BT.601 luma weights of R, G and B.
BT601 = np.array([0.299, 0.587, 0.114])


def mean_luma(image: np.ndarray) -> float:
    """Mean BT.601 luma of an RGB uint8 image, 0..255.

    Luma is linear in R, G and B, so the mean of the per-pixel luma equals the
    luma of the per-channel means: one integer sum per channel, no float image.
    """
    height, width = image.shape[:2]
    channel_sums = image.sum(axis=(0, 1), dtype=np.uint64)
    return float(channel_sums @ BT601) / (height * width)


class ColorIntensity(Processor):
    """A frame whose mean luma is below ``threshold`` is ``dark``, else ``light``."""

    thread_safe = True

    def __init__(self, threshold: float = 127.0) -> None:
        if not 0 <= float(threshold) <= 255:
            raise ValueError(f"threshold must be between 0 and 255, got {threshold}")
        self.threshold = float(threshold)

    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        return [[self._classify(frame.image)] for frame in frames]

    def _classify(self, image: np.ndarray) -> Inference:
        tag = "dark" if mean_luma(image) < self.threshold else "light"
        return inferences.classification(tag, confidence=1.0, subtype="colorIntensity")
