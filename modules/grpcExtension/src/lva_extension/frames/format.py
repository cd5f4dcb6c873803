"""Frame formats: what a stream's descriptor declares, validated.

A FrameFormat carries its RAW pixel layout (pixels.py), so that decoding and
encoding need nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from ..errors import InvalidArgument
from ..proto import media_pb2
from .pixels import PIXEL_LAYOUTS, PixelFormat, PixelLayout, Sizes

Encoding = media_pb2.VideoFrameSampleFormat.Encoding

ENCODED_FORMATS: dict[int, str] = {Encoding.JPG: "JPEG", Encoding.PNG: "PNG", Encoding.BMP: "BMP"}


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
