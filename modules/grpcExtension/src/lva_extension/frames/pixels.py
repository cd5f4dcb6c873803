"""RAW pixel formats: how each lays out its pixels, and codecs for those that need one.

The 8-bit packed formats (RGB24, BGRA, ...) are decoded as zero-copy views
(decode.py), described by a byte count and a channel slice. 16-bit RGB and
planar YUV 4:2:0 are converted into a new RGB array instead, with numpy only:
a 65536-entry table lookup for 16-bit RGB, and for YUV420P one float32 pass
per channel that broadcasts each chroma sample over its 2x2 block of luma.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cache
from typing import Protocol

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..proto import media_pb2

PixelFormat = media_pb2.VideoFrameSampleFormat.PixelFormat

Sizes = tuple[tuple[int, int], ...]  # sample sizes a format accepts, as inclusive ranges


class Raster(Protocol):
    """The geometry of a RAW frame a codec needs (a Raster is one)."""

    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def stride(self) -> int: ...  # bytes from one row to the next
    @property
    def row_bytes(self) -> int: ...  # bytes of a row's pixels, without padding


def rows(buffer: np.ndarray, count: int, stride: int, row_bytes: int) -> np.ndarray:
    """A read-only (count, row_bytes) view of rows that start ``stride`` bytes apart."""
    return as_strided(buffer, shape=(count, row_bytes), strides=(stride, 1), writeable=False)


def padded_rows(data: np.ndarray, stride: int) -> np.ndarray:
    """Rows of bytes (count, row_bytes) -> rows padded with zeros to ``stride`` bytes."""
    frame = np.zeros((data.shape[0], stride), dtype=np.uint8)
    frame[:, : data.shape[1]] = data
    return frame


class PixelCodec(ABC):
    """Decodes and encodes one RAW pixel format that needs converting."""

    def frame_bytes(self, fmt: Raster) -> int:
        """The size of a whole frame with every row padded to its stride."""
        return fmt.stride * fmt.height

    def sample_sizes(self, fmt: Raster) -> Sizes:
        # LVA sends height * stride bytes; the last row's padding may be left out.
        return ((fmt.stride * (fmt.height - 1) + fmt.row_bytes, self.frame_bytes(fmt)),)

    @abstractmethod
    def decode(self, fmt: Raster, buffer: np.ndarray) -> np.ndarray:
        """A sample's bytes (of an accepted size) -> a new RGB uint8 array (h, w, 3)."""

    @abstractmethod
    def encode(self, rgb: np.ndarray, fmt: Raster) -> bytes:
        """An RGB uint8 array (h, w, 3) -> the bytes of a whole frame."""


# --- RGB565 and RGB555, little or big endian --------------------------------


@cache
def _rgb16_table(green_bits: int) -> np.ndarray:
    """Every 16-bit pixel -> its R, G, B, 0 bytes, as one uint32 per pixel."""
    words = np.arange(1 << 16, dtype=np.uint32)
    red_shift = 5 + green_bits
    rgbx = np.zeros((1 << 16, 4), dtype=np.uint8)
    rgbx[:, 0] = _widen((words >> red_shift) & 31, 5)
    rgbx[:, 1] = _widen((words >> 5) & ((1 << green_bits) - 1), green_bits)
    rgbx[:, 2] = _widen(words & 31, 5)
    return rgbx.view(np.uint32).ravel()


def _widen(values: np.ndarray, bits: int) -> np.ndarray:
    """n-bit values -> 8 bits by repeating the high bits (31 -> 255, 0 -> 0)."""
    return ((values << (8 - bits)) | (values >> (2 * bits - 8))).astype(np.uint8)


def _narrow(channel: np.ndarray, bits: int) -> np.ndarray:
    """8-bit values -> the nearest n-bit value; the exact inverse of _widen."""
    top = (1 << bits) - 1
    return (channel.astype(np.uint32) * top + 127) // 255


class Rgb16(PixelCodec):
    """RGB565 (5-6-5 bits) or RGB555 (1 unused bit, 5-5-5): one 16-bit word per pixel."""

    def __init__(self, green_bits: int, big_endian: bool) -> None:
        self.green_bits = green_bits
        self.word = np.dtype(">u2" if big_endian else "<u2")

    def decode(self, fmt: Raster, buffer: np.ndarray) -> np.ndarray:
        words = rows(buffer, fmt.height, fmt.stride, fmt.row_bytes).view(self.word)
        rgbx = np.take(_rgb16_table(self.green_bits), words)
        rgb = rgbx.view(np.uint8).reshape(fmt.height, fmt.width, 4)[:, :, :3]
        rgb.flags.writeable = False
        return rgb

    def encode(self, rgb: np.ndarray, fmt: Raster) -> bytes:
        red_shift = 5 + self.green_bits
        words = (
            (_narrow(rgb[:, :, 0], 5) << red_shift)
            | (_narrow(rgb[:, :, 1], self.green_bits) << 5)
            | _narrow(rgb[:, :, 2], 5)
        )
        data = words.astype(self.word).view(np.uint8).reshape(fmt.height, fmt.row_bytes)
        return padded_rows(data, fmt.stride).tobytes()


# --- YUV420P ------------------------------------------------------------------

# ITU-R BT.601 in limited ("video", "TV") range, as FFmpeg converts yuv420p
# without colour metadata: Y in 16..235, U and V in 16..240.
_KR, _KB = 0.299, 0.114
_KG = 1 - _KR - _KB
_Y_SCALE, _C_SCALE = 219 / 255, 224 / 255
# (R, G, B) in 0..255 -> (Y - 16, U - 128, V - 128)
_ENCODE = np.array(
    [
        [_KR * _Y_SCALE, _KG * _Y_SCALE, _KB * _Y_SCALE],
        [-_KR / (2 - 2 * _KB) * _C_SCALE, -_KG / (2 - 2 * _KB) * _C_SCALE, 0.5 * _C_SCALE],
        [0.5 * _C_SCALE, -_KG / (2 - 2 * _KR) * _C_SCALE, -_KB / (2 - 2 * _KR) * _C_SCALE],
    ]
)
_DECODE = np.linalg.inv(_ENCODE)  # its zero entries come out as ~1e-17: not used below
_Y_TO_RGB = _DECODE[0, 0]
_V_TO_R, _U_TO_G, _V_TO_G, _U_TO_B = _DECODE[0, 2], _DECODE[1, 1], _DECODE[1, 2], _DECODE[2, 1]
# Every Y byte -> its share of R, G and B, plus 0.5 so that truncating rounds.
_LUMA = (_Y_TO_RGB * (np.arange(256) - 16) + 0.5).astype(np.float32)


class Yuv420p(PixelCodec):
    """Planar YUV 4:2:0 (I420): a Y plane, then U and V planes of half width and height.

    ``stride`` is the luma row stride. Chroma planes are ceil(height / 2) rows
    of ceil(width / 2) samples, and we assume a chroma stride of half the luma
    stride, rounded up (as FFmpeg lays out padded frames). A sample whose
    chroma rows are unpadded (ceil(width / 2) bytes apart) is accepted too:
    the two layouts differ in size whenever the luma rows are padded, so the
    size says which one arrived. Odd widths and heights are accepted.
    """

    @staticmethod
    def _chroma(fmt: Raster) -> tuple[int, int, int]:
        """Chroma plane width, height and (padded) stride."""
        return (fmt.width + 1) // 2, (fmt.height + 1) // 2, (fmt.stride + 1) // 2

    def frame_bytes(self, fmt: Raster) -> int:
        _, height, stride = self._chroma(fmt)
        return fmt.stride * fmt.height + 2 * stride * height

    def sample_sizes(self, fmt: Raster) -> Sizes:
        width, height, stride = self._chroma(fmt)
        padded = self.frame_bytes(fmt)
        least = padded - (stride - width)  # the last chroma row's padding left out
        unpadded_chroma = fmt.stride * fmt.height + 2 * width * height
        if unpadded_chroma >= least:  # unpadded luma rows: one layout
            return ((least, padded),)
        return ((least, padded), (unpadded_chroma, unpadded_chroma))

    def decode(self, fmt: Raster, buffer: np.ndarray) -> np.ndarray:
        width, height, stride = self._chroma(fmt)
        if len(buffer) < self.sample_sizes(fmt)[0][0]:
            stride = width  # the unpadded chroma layout
        luma = rows(buffer, fmt.height, fmt.stride, fmt.width)
        u_start = fmt.stride * fmt.height
        u = rows(buffer[u_start:], height, stride, width)
        v = rows(buffer[u_start + stride * height :], height, stride, width)
        rgb = _yuv_to_rgb(luma, u, v)
        rgb.flags.writeable = False
        return rgb

    def encode(self, rgb: np.ndarray, fmt: Raster) -> bytes:
        height, width = rgb.shape[:2]
        even = np.pad(rgb, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        luma = rgb.astype(np.float32) @ _ENCODE[0].astype(np.float32) + 16.5
        # The mean colour of each 2x2 block gives its chroma (the conversion is linear).
        sums = even[0::2, 0::2].astype(np.uint16)
        for dy, dx in ((0, 1), (1, 0), (1, 1)):
            sums += even[dy::2, dx::2]
        means = sums.astype(np.float32) / 4
        u = means @ _ENCODE[1].astype(np.float32) + 128.5
        v = means @ _ENCODE[2].astype(np.float32) + 128.5
        _, _, chroma_stride = self._chroma(fmt)
        planes = [
            padded_rows(_to_bytes(luma), fmt.stride),
            padded_rows(_to_bytes(u), chroma_stride),
            padded_rows(_to_bytes(v), chroma_stride),
        ]
        return b"".join(plane.tobytes() for plane in planes)


def _to_bytes(values: np.ndarray) -> np.ndarray:
    """float values already offset by +0.5 -> rounded, clipped uint8."""
    return np.clip(values, 0, 255).astype(np.uint8)


def _yuv_to_rgb(luma: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    height, width = luma.shape
    chroma_height, chroma_width = u.shape
    y = np.take(_LUMA, luma)
    if y.shape != (2 * chroma_height, 2 * chroma_width):  # odd width or height
        y = np.pad(y, ((0, 2 * chroma_height - height), (0, 2 * chroma_width - width)), "edge")
    blocks = y.reshape(chroma_height, 2, chroma_width, 2)
    d = u.astype(np.float32) - 128
    e = v.astype(np.float32) - 128
    terms = (_V_TO_R * e, _U_TO_G * d + _V_TO_G * e, _U_TO_B * d)
    out = np.empty((chroma_height, 2, chroma_width, 2, 3), dtype=np.uint8)
    channel = np.empty_like(blocks)
    for index, term in enumerate(terms):
        np.add(blocks, term.astype(np.float32)[:, None, :, None], out=channel)
        np.clip(channel, 0, 255, out=channel)
        out[..., index] = channel  # truncates: _LUMA carries the +0.5
    rgb = out.reshape(2 * chroma_height, 2 * chroma_width, 3)
    return rgb[:height, :width] if rgb.shape[:2] != (height, width) else rgb


# --- the layout table ---------------------------------------------------------


@dataclass(frozen=True)
class PixelLayout:
    """How one RAW pixel format stores its pixels."""

    bytes_per_pixel: int  # of a row's pixels; for YUV420P, of the luma plane's
    # 8-bit packed formats: the R, G, B channels of one pixel, in that order
    rgb: slice = field(default_factory=lambda: slice(0, 3))
    codec: PixelCodec | None = None  # formats that need converting; None: a view


# A slice (not a list of indices) keeps the channel reorder a zero-copy view.
PIXEL_LAYOUTS: dict[int, PixelLayout] = {
    PixelFormat.RGB24: PixelLayout(3, slice(0, 3)),
    PixelFormat.BGR24: PixelLayout(3, slice(2, None, -1)),
    PixelFormat.RGBA: PixelLayout(4, slice(0, 3)),
    PixelFormat.BGRA: PixelLayout(4, slice(2, None, -1)),
    PixelFormat.ARGB: PixelLayout(4, slice(1, 4)),
    PixelFormat.ABGR: PixelLayout(4, slice(3, 0, -1)),
    PixelFormat.RGB565LE: PixelLayout(2, codec=Rgb16(green_bits=6, big_endian=False)),
    PixelFormat.RGB565BE: PixelLayout(2, codec=Rgb16(green_bits=6, big_endian=True)),
    PixelFormat.RGB555LE: PixelLayout(2, codec=Rgb16(green_bits=5, big_endian=False)),
    PixelFormat.RGB555BE: PixelLayout(2, codec=Rgb16(green_bits=5, big_endian=True)),
    PixelFormat.YUV420P: PixelLayout(1, codec=Yuv420p()),
}
