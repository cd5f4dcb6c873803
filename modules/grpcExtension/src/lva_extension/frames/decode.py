"""Decoding a sample's bytes into the RGB numpy array a processor sees.

Processors see every frame as an RGB ``uint8`` array of shape (height, width,
3). 8-bit packed RAW frames become read-only views of the sample's bytes (no
copy), with the channel order and row padding expressed as strides; 16-bit
RGB and YUV420P are converted (pixels.py); JPG goes through libjpeg-turbo
(simplejpeg), and PNG, BMP and what simplejpeg declines through Pillow.
"""

from __future__ import annotations

import io

import numpy as np
import simplejpeg
from PIL import Image

from ..errors import InvalidArgument
from .format import ENCODED_FORMATS, Encoding, FrameFormat, encoding_name


def decode(fmt: FrameFormat, data: bytes | memoryview, max_pixels: int) -> np.ndarray:
    """Turn one sample's bytes into an RGB uint8 array of shape (h, w, 3).

    A RAW frame is a read-only view of ``data``: it is valid only while the
    bytes are (for shared memory, until the sample is acknowledged).
    """
    if fmt.is_raw:
        return _decode_raw(fmt, data)
    return _decode_image(fmt, data, max_pixels)


def _decode_raw(fmt: FrameFormat, data: bytes | memoryview) -> np.ndarray:
    sizes = fmt.sample_sizes
    if not any(least <= len(data) <= most for least, most in sizes):
        expected = " or ".join(
            f"{least}" if least == most else f"{least} to {most}" for least, most in sizes
        )
        raise InvalidArgument(f"sample: {fmt.describe()} needs {expected} bytes, got {len(data)}")
    layout = fmt.layout
    if layout.codec is not None:
        return layout.codec.decode(fmt, np.frombuffer(data, dtype=np.uint8))
    bpp = layout.bytes_per_pixel
    # The rows as they lie in the buffer (padding skipped by the stride), no copy. Built
    # over np.frombuffer, which holds an export of the buffer for as long as the array
    # lives: a view made with np.ndarray(buffer=...) holds none, so a shared-memory
    # mapping could be closed under a processor that kept its frame (a crash when the
    # frame is read), where now the close is refused and the kept frame stays readable.
    whole = np.frombuffer(data, dtype=np.uint8)
    pixels = np.lib.stride_tricks.as_strided(
        whole, (fmt.height, fmt.width, bpp), (fmt.stride, bpp, 1), writeable=False
    )
    return pixels[:, :, layout.rgb]


def _decode_jpeg_fast(data: bytes | memoryview, max_pixels: int) -> np.ndarray | None:
    """libjpeg-turbo straight into numpy (1.2-2.4x faster than Pillow's decode and copy here).

    None when it cannot: then Pillow decodes, or explains what is wrong.
    """
    try:
        height, width, _, _ = simplejpeg.decode_jpeg_header(data)
        if width * height > max_pixels:
            return None  # Pillow's path words the refusal
        frame: np.ndarray = simplejpeg.decode_jpeg(data, colorspace="RGB", strict=True)
        return frame
    except ValueError:  # corrupt, truncated, or a colour space it does not convert
        return None


def _decode_image(fmt: FrameFormat, data: bytes | memoryview, max_pixels: int) -> np.ndarray:
    if fmt.encoding == Encoding.JPG:
        frame = _decode_jpeg_fast(data, max_pixels)
        if frame is not None:
            return frame
    name = encoding_name(fmt.encoding)
    try:
        with Image.open(io.BytesIO(data), formats=[ENCODED_FORMATS[fmt.encoding]]) as image:
            # The header is read, the pixels are not: refuse bombs before decoding.
            if image.width * image.height > max_pixels:
                raise InvalidArgument(
                    f"sample: a {image.width}x{image.height} {name} image exceeds"
                    f" {max_pixels} pixels (maxFramePixels)"
                )
            return np.asarray(image.convert("RGB"))
    except InvalidArgument:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise InvalidArgument(f"sample: not a decodable {name} image ({error})") from None
