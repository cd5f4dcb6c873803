"""Frames into a model's input tensor: each frame straight into its slot.

A frame is resized once (frames.resize: from where it lies, shared memory
included, into a small per-thread buffer) and then, in one numpy pass per
operation, put into its slot in the model's layout, colour order and scaling.
A frame that already has the model's size skips the resize: the pass reads
the frame where it lies and writes the slot, with no copy in between.
Letterboxing fills the padding of the slot with the padding value as the
model sees it.
"""

from __future__ import annotations

import threading

import numpy as np

from ...frames.resize import Placement, placement, planes, resize_into
from .options import OnnxOptions
from .session import ModelInput


class Fitter:
    """Fits RGB frames into slots of a model's input tensor."""

    def __init__(self, model: ModelInput, options: OnnxOptions) -> None:
        if model.dtype == np.uint8 and options.scaled:
            raise ValueError("scale, mean and std do not apply: the model takes uint8 pixels")
        self.model = model
        self.mode = options.resize
        self.reversed = options.color_order == "BGR"
        scale, offset = options.normalisation()
        # Per channel, in the model's colour order, shaped for the slot's layout.
        shape = (3,) if model.channels_last else (3, 1, 1)
        self._scale = scale.reshape(shape)
        self._offset = offset.reshape(shape) if offset.any() else None
        pad = np.full(3, options.pad_value, dtype=np.float32)
        self._pad = (
            pad.astype(np.uint8) if model.dtype == np.uint8 else pad * scale + offset
        ).reshape(shape)
        self._local = threading.local()

    @property
    def slot_shape(self) -> tuple[int, int, int]:
        m = self.model
        return (m.height, m.width, 3) if m.channels_last else (3, m.height, m.width)

    def allocate(self, count: int) -> np.ndarray:
        """An input tensor of ``count`` slots."""
        return np.empty((count, *self.slot_shape), dtype=self.model.dtype)

    def fit_into(self, image: np.ndarray, slot: np.ndarray) -> Placement:
        """Put an RGB uint8 frame (h, w, 3) into ``slot``; returns where it landed."""
        height, width = self.model.height, self.model.width
        where = placement(image.shape[1], image.shape[0], width, height, self.mode)
        inner_width, inner_height = where.inner_width, where.inner_height
        region = slot
        if (inner_width, inner_height) != (width, height):
            slot[...] = self._pad
            top, left = int(where.pad_y), int(where.pad_x)
            rows, columns = slice(top, top + inner_height), slice(left, left + inner_width)
            region = slot[rows, columns] if self.model.channels_last else slot[:, rows, columns]
        pixels = image
        if image.shape[:2] != (inner_height, inner_width):
            pixels = resize_into(image, self._staging()[:inner_height, :inner_width])
        self._convert(pixels, region)
        return where

    def _staging(self) -> np.ndarray:
        """This thread's buffer for resized frames (as large as the model's input)."""
        buffer: np.ndarray | None = getattr(self._local, "buffer", None)
        if buffer is None:
            buffer = np.empty((self.model.height, self.model.width, 3), dtype=np.uint8)
            self._local.buffer = buffer
        return buffer

    def _convert(self, pixels: np.ndarray, region: np.ndarray) -> None:
        """RGB pixels (h, w, 3) -> ``region`` in the model's order, layout and scaling."""
        source = pixels[..., ::-1] if self.reversed else pixels
        if self.model.channels_last:
            self._scaled(source, region, self._scale, self._offset)
            return
        # NCHW: one plane at a time, each read in memory order.
        for channel, plane in enumerate(planes(source)):
            offset = None if self._offset is None else self._offset[channel]
            self._scaled(plane, region[channel], self._scale[channel], offset)

    def _scaled(
        self,
        source: np.ndarray,
        target: np.ndarray,
        scale: np.ndarray,
        offset: np.ndarray | None,
    ) -> None:
        """target = source * scale + offset, in float32 (rounded once for float16)."""
        if target.dtype == np.uint8:
            target[...] = source
        elif target.dtype == np.float32:
            np.multiply(source, scale, out=target)
            if offset is not None:
                np.add(target, offset, out=target)
        else:
            scaled = source * scale
            target[...] = scaled if offset is None else scaled + offset
