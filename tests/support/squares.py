"""A clip of two coloured squares on known paths, and a processor that finds them.

Frame ``i`` of :func:`square_frames` has a red square moving right and a blue
one moving down; :func:`known_boxes` says where, as the fractions an entity
box uses. :class:`FindSquares` (loaded by dotted path,
``tests.support.squares:FindSquares``) reports what it sees: an entity per
square, tagged "red" and "blue", and a classification, so tests can check that
boxes are drawn where the inferences say and that the inferences are where the
squares are.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from lva_extension import Frame, Processor, inferences
from lva_extension.proto.inferencing_pb2 import Inference

BACKGROUND = 50
RED, BLUE = (230, 40, 40), (40, 80, 230)
CONFIDENCE = {"red": 0.9, "blue": 0.75}
FRAMES = 30  # the paths fit this many frames
Box = tuple[float, float, float, float]


def _squares(index: int, width: int, height: int) -> dict[str, tuple[int, int, int]]:
    """Left, top and side in pixels of each square in frame ``index`` (looping)."""
    step = index % FRAMES
    side_red, side_blue = height // 6, height // 5
    red_x = width // 16 + step * (width - width // 8 - side_red) // FRAMES
    blue_y = height // 24 + step * (height - height // 12 - side_blue) // FRAMES
    return {
        "red": (red_x, height // 6, side_red),
        "blue": (width * 5 // 8, blue_y, side_blue),
    }


def square_frames(
    width: int, height: int, count: int = FRAMES, texture: bool = False
) -> Iterator[np.ndarray]:
    """The clip; ``texture`` adds grain to the background (big JPEGs, same squares)."""
    grain = np.random.default_rng(7).integers(-12, 13, (height, width, 3))
    for index in range(count):
        frame = np.full((height, width, 3), BACKGROUND, dtype=np.uint8)
        if texture:
            frame = (BACKGROUND + np.roll(grain, index * 3, axis=1)).astype(np.uint8)
        for tag, (left, top, side) in _squares(index, width, height).items():
            frame[top : top + side, left : left + side] = RED if tag == "red" else BLUE
        yield frame


def known_boxes(index: int, width: int, height: int) -> dict[str, Box]:
    return {
        tag: (left / width, top / height, side / width, side / height)
        for tag, (left, top, side) in _squares(index, width, height).items()
    }


def _find(mask: np.ndarray) -> Box | None:
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    height, width = mask.shape
    top, left = rows[0], columns[0]
    return (
        left / width,
        top / height,
        (columns[-1] + 1 - left) / width,
        (rows[-1] + 1 - top) / height,
    )


class FindSquares(Processor):
    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        out = []
        for frame in frames:
            image = frame.image.astype(np.int16)
            r, g, b = image[..., 0], image[..., 1], image[..., 2]
            masks = {
                "red": (r > 150) & (g < 110) & (b < 110),
                "blue": (b > 150) & (r < 110) & (g < 150),
            }
            found = [inferences.classification("squares", 1.0)]
            for tag, mask in masks.items():
                box = _find(mask)
                if box is not None:
                    found.append(inferences.entity(tag, box, CONFIDENCE[tag]))
            out.append(found)
        return out
