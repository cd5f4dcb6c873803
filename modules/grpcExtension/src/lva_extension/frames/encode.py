"""The inverse of decoding, for clients: an RGB array -> the bytes of a sample."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from .format import ENCODED_FORMATS, Encoding, FrameFormat


def encode(rgb: np.ndarray, fmt: FrameFormat, quality: int = 90) -> bytes:
    """The inverse of decode, for clients: RGB array -> the bytes of a sample."""
    if rgb.shape != (fmt.height, fmt.width, 3):
        raise ValueError(
            f"expected an array of shape {(fmt.height, fmt.width, 3)}, got {rgb.shape}"
        )
    if not fmt.is_raw:
        out = io.BytesIO()
        options = {"quality": quality} if fmt.encoding == Encoding.JPG else {}
        Image.fromarray(np.ascontiguousarray(rgb)).save(
            out, format=ENCODED_FORMATS[fmt.encoding], **options
        )
        return out.getvalue()
    layout = fmt.layout
    if layout.codec is not None:
        return layout.codec.encode(np.asarray(rgb, dtype=np.uint8), fmt)
    frame = np.zeros((fmt.height, fmt.stride), dtype=np.uint8)
    pixels = frame[:, : fmt.row_bytes].reshape(fmt.height, fmt.width, layout.bytes_per_pixel)
    if layout.bytes_per_pixel == 4:
        pixels[:] = 255  # opaque alpha wherever the alpha channel is
    pixels[:, :, layout.rgb] = rgb
    return frame.tobytes()
