"""Image scale and format of a gRPC extension node: what the extension receives.

Scale modes (LVA ``image.scale.mode``):
- ``stretch``: exactly width x height, the aspect ratio is not kept;
- ``pad``: width x height, the picture scaled to fit and centred on black
  (letterbox or pillarbox);
- ``preserveAspectRatio``: scaled to fit inside width x height (or to the one
  dimension given), so the frame may be smaller than asked in one dimension;
- none: the source's own size.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from lva_extension.client import StreamFormat
from lva_extension.frames import encode
from lva_extension.frames.resize import fit, resize

SCALE_MODES = ("preserveAspectRatio", "pad", "stretch")
Area = tuple[float, float, float, float]  # left, top, width, height: fractions of a frame
WHOLE: Area = (0.0, 0.0, 1.0, 1.0)
# The pixelFormat values of MediaGraphImageFormatRaw.
LVA_PIXEL_FORMATS = (
    "yuv420p",
    "rgb565be",
    "rgb565le",
    "rgb555be",
    "rgb555le",
    "rgb24",
    "bgr24",
    "argb",
    "rgba",
    "abgr",
    "bgra",
)


@functools.cache
def client_sends(pixel_format: str) -> bool:
    """Whether the project's client can announce and encode this raw pixel format."""
    try:
        fmt = StreamFormat("raw", pixel_format, 2, 2).frame_format()
        encode(np.zeros((2, 2, 3), dtype=np.uint8), fmt)
    except (KeyError, ValueError, NotImplementedError):
        return False
    return True


@dataclass(frozen=True)
class ImageSpec:
    mode: str  # one of SCALE_MODES, or "none"
    width: int | None
    height: int | None
    encoding: str  # raw, jpg, png, bmp
    pixel_format: str  # for raw
    quality: int = 90  # for jpg

    def output_size(self, source_width: int, source_height: int) -> tuple[int, int]:
        if self.mode in ("stretch", "pad") and self.width and self.height:
            return self.width, self.height
        if self.mode != "preserveAspectRatio":
            return source_width, source_height
        if self.width and self.height:
            factor = min(self.width / source_width, self.height / source_height)
        elif self.width:
            factor = self.width / source_width
        else:
            factor = (self.height or source_height) / source_height
        return max(1, round(source_width * factor)), max(1, round(source_height * factor))

    def stream_format(self, source_width: int, source_height: int) -> StreamFormat:
        width, height = self.output_size(source_width, source_height)
        return StreamFormat(self.encoding, self.pixel_format, width, height)

    def scale(self, rgb: np.ndarray) -> np.ndarray:
        """The frame at the size the extension receives."""
        return self.place(rgb)[0]

    def place(self, rgb: np.ndarray) -> tuple[np.ndarray, Area]:
        """The frame at the size the extension receives, and the area the source fills in it."""
        height, width = rgb.shape[:2]
        out_width, out_height = self.output_size(width, height)
        if self.mode != "pad":
            return resize(rgb, out_width, out_height), WHOLE
        canvas, placed = fit(rgb, out_width, out_height, "letterbox", pad_value=0)
        area = (
            placed.pad_x / out_width,
            placed.pad_y / out_height,
            placed.scale_x * width / out_width,
            placed.scale_y * height / out_height,
        )
        return canvas, area

    def convert(self, rgb: np.ndarray) -> bytes:
        """Scale and encode one RGB frame into the bytes of a media sample."""
        return self.encode(self.scale(rgb))

    def encode(self, scaled: np.ndarray) -> bytes:
        """Encode a frame already at the output size."""
        height, width = scaled.shape[:2]
        fmt = StreamFormat(self.encoding, self.pixel_format, width, height).frame_format()
        return encode(scaled, fmt, quality=self.quality)

    @property
    def content_type(self) -> str:
        """The MIME type of an encoded sample (the HTTP extension's Content-Type)."""
        return {"jpg": "image/jpeg", "png": "image/png", "bmp": "image/bmp"}.get(
            self.encoding, "image/x-raw"
        )
