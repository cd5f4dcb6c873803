"""Frame formats: descriptor validation, and decoding samples into numpy.

Processors see every frame as an RGB ``uint8`` array of shape (height, width,
3). 8-bit packed RAW frames become read-only views of the sample's bytes (no
copy), with the channel order and row padding expressed as strides; 16-bit
RGB and YUV420P are converted (pixels.py); JPG, PNG and BMP are decoded with
Pillow.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import simplejpeg
from PIL import Image

from .errors import InvalidArgument
from .pixels import PixelCodec, Rgb16, Sizes, Yuv420p
from .proto import media_pb2

Encoding = media_pb2.VideoFrameSampleFormat.Encoding
PixelFormat = media_pb2.VideoFrameSampleFormat.PixelFormat

ENCODED_FORMATS: dict[int, str] = {Encoding.JPG: "JPEG", Encoding.PNG: "PNG", Encoding.BMP: "BMP"}


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


def encoding_name(encoding: int) -> str:
    return str(Encoding.Name(encoding)) if encoding in Encoding.values() else str(encoding)


def pixel_format_name(pixel_format: int) -> str:
    if pixel_format in PixelFormat.values():
        return str(PixelFormat.Name(pixel_format))
    return str(pixel_format)


@dataclass(frozen=True)
class FrameFormat:
    """A validated video frame format; RAW formats know their exact layout."""

    encoding: int
    pixel_format: int
    width: int
    height: int
    stride: int  # bytes per row; for RAW always >= width * bytes_per_pixel

    @property
    def is_raw(self) -> bool:
        return self.encoding == Encoding.RAW

    @cached_property
    def layout(self) -> PixelLayout:
        return PIXEL_LAYOUTS[self.pixel_format]

    @property
    def row_bytes(self) -> int:
        return self.width * self.layout.bytes_per_pixel

    @property
    def frame_bytes(self) -> int:
        """Size of one RAW frame with every row padded to the stride."""
        if self.is_raw and self.layout.codec is not None:
            return self.layout.codec.frame_bytes(self)
        return self.stride * self.height

    @cached_property  # consulted for every sample
    def sample_sizes(self) -> Sizes:
        """The sizes a RAW sample may have, as inclusive ranges."""
        if self.layout.codec is not None:
            return self.layout.codec.sample_sizes(self)
        # LVA sends height * stride bytes; the last row's padding may be left out.
        return ((self.stride * (self.height - 1) + self.row_bytes, self.frame_bytes),)

    def describe(self) -> str:
        if self.is_raw:
            return (
                f"RAW {pixel_format_name(self.pixel_format)} {self.width}x{self.height}"
                f" stride {self.stride}"
            )
        return f"{encoding_name(self.encoding)} {self.width}x{self.height}"


def parse_format(descriptor: media_pb2.MediaDescriptor, max_pixels: int) -> FrameFormat:
    """Validate a stream's MediaDescriptor; raise InvalidArgument saying why not."""
    if descriptor.WhichOneof("media_sample_format") != "video_frame_sample_format":
        raise InvalidArgument(
            "media_descriptor: expected a video_frame_sample_format, got none"
            " (this extension processes video frames only)"
        )
    video = descriptor.video_frame_sample_format
    width, height = video.dimensions.width, video.dimensions.height
    if width * height > max_pixels:
        raise InvalidArgument(
            f"dimensions: {width}x{height} is {width * height} pixels;"
            f" this server accepts at most {max_pixels} (maxFramePixels)"
        )
    if video.encoding in ENCODED_FORMATS:
        return FrameFormat(video.encoding, video.pixel_format, width, height, 0)
    if video.encoding != Encoding.RAW:
        raise InvalidArgument(
            f"encoding: expected one of BMP, JPG, PNG, RAW, got {encoding_name(video.encoding)}"
        )
    if video.pixel_format not in PIXEL_LAYOUTS:
        supported = ", ".join(pixel_format_name(p) for p in PIXEL_LAYOUTS)
        raise InvalidArgument(
            f"pixel_format: RAW frames need one of {supported},"
            f" got {pixel_format_name(video.pixel_format)}"
        )
    if width == 0 or height == 0:
        raise InvalidArgument(
            f"dimensions: RAW frames need a width and height, got {width}x{height}"
        )
    row_bytes = width * PIXEL_LAYOUTS[video.pixel_format].bytes_per_pixel
    stride = video.stride_bytes or row_bytes
    if stride < row_bytes:
        raise InvalidArgument(
            f"stride_bytes: a {pixel_format_name(video.pixel_format)} row of {width} pixels needs"
            f" at least {row_bytes} bytes, got {stride}"
        )
    if stride > 2 * row_bytes + 4096:
        raise InvalidArgument(
            f"stride_bytes: {stride} is far more than a row of {row_bytes} bytes needs"
        )
    return FrameFormat(video.encoding, video.pixel_format, width, height, stride)


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
    # The rows as they lie in the buffer (padding skipped by the stride), no copy.
    pixels = np.ndarray((fmt.height, fmt.width, bpp), np.uint8, data, 0, (fmt.stride, bpp, 1))
    pixels.flags.writeable = False
    return pixels[:, :, layout.rgb]


def _decode_jpeg_fast(data: bytes | memoryview, max_pixels: int) -> np.ndarray | None:
    """libjpeg-turbo straight into numpy (8x faster than Pillow's decode and copy).

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
