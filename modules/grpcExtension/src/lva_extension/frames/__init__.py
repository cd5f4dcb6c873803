"""Frames: sample bytes <-> RGB numpy arrays, in both directions.

``format`` validates what a descriptor declares, ``pixels`` knows the RAW
pixel layouts, ``decode`` turns a sample into the array a processor sees,
``encode`` does the reverse for clients, and ``resize`` fits frames to sizes.
"""

from .decode import decode
from .encode import encode
from .format import (
    ENCODED_FORMATS,
    Encoding,
    FrameFormat,
    encoding_name,
    parse_format,
    pixel_format_name,
)
from .pixels import PIXEL_LAYOUTS, PixelFormat, PixelLayout

__all__ = [
    "ENCODED_FORMATS",
    "PIXEL_LAYOUTS",
    "Encoding",
    "FrameFormat",
    "PixelFormat",
    "PixelLayout",
    "decode",
    "encode",
    "encoding_name",
    "parse_format",
    "pixel_format_name",
]
