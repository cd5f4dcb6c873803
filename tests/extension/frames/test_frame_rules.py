"""Frame formats at their edges, with the words a client reads, and encoding and decoding
details a client sees: JPEG quality, opaque alpha, images in another format than declared."""

from __future__ import annotations

import io

import numpy as np
import pytest
from lva_extension.client import StreamFormat
from lva_extension.errors import InvalidArgument
from lva_extension.frames import decode, encode, parse_format
from lva_extension.proto import media_pb2
from PIL import Image

from tests.support.streams import Format, descriptor


def media(**kwargs) -> media_pb2.MediaDescriptor:
    return descriptor(**kwargs).media_stream_descriptor.media_descriptor


def refusal(max_pixels: int = 1 << 24, **kwargs) -> str:
    with pytest.raises(InvalidArgument) as raised:
        parse_format(media(**kwargs), max_pixels)
    return raised.value.message


def test_a_descriptor_without_a_video_format_is_refused():
    message = media()
    message.ClearField("video_frame_sample_format")
    with pytest.raises(InvalidArgument) as raised:
        parse_format(message, 1 << 24)
    assert raised.value.message == (
        "media_descriptor: expected a video_frame_sample_format, got none"
        " (this extension processes video frames only)"
    )


def test_the_pixel_limit_is_inclusive_and_the_refusal_counts_the_pixels():
    assert parse_format(media(width=64, height=48), 64 * 48).width == 64
    assert refusal(64 * 48 - 1, width=64, height=48) == (
        "dimensions: 64x48 is 3072 pixels; this server accepts at most 3071 (maxFramePixels)"
    )


def test_encoded_formats_keep_what_was_declared():
    fmt = parse_format(media(encoding=Format.JPG, pixel_format=Format.BGR24), 1 << 24)
    assert (fmt.encoding, fmt.pixel_format, fmt.stride) == (Format.JPG, Format.BGR24, 0)
    assert fmt.describe() == "JPG 64x48"


def test_raw_refusals_name_the_pixel_format_and_what_is_wrong():
    assert refusal(pixel_format=9999) == (
        "pixel_format: RAW frames need one of RGB24, BGR24, RGBA, BGRA, ARGB, ABGR, RGB565LE,"
        " RGB565BE, RGB555LE, RGB555BE, YUV420P, got 9999"
    )
    assert refusal(width=64, height=0) == (
        "dimensions: RAW frames need a width and height, got 64x0"
    )
    assert refusal(width=10, height=2, stride=20) == (
        "stride_bytes: a RGB24 row of 10 pixels needs at least 30 bytes, got 20"
    )


def test_the_largest_stride_allowed_is_two_rows_and_4_kib():
    row = 64 * 3
    assert parse_format(media(stride=2 * row + 4096), 1 << 24).stride == 2 * row + 4096
    assert refusal(stride=2 * row + 4097) == (
        f"stride_bytes: {2 * row + 4097} is far more than a row of {row} bytes needs"
    )
    fmt = parse_format(media(stride=200), 1 << 24)
    assert fmt.describe() == "RAW RGB24 64x48 stride 200"


def test_encode_refuses_an_array_of_another_shape():
    fmt = StreamFormat("raw", "rgb24", 4, 2).frame_format()
    with pytest.raises(ValueError, match="expected an array") as raised:
        encode(np.zeros((2, 4, 4), np.uint8), fmt)
    assert str(raised.value) == "expected an array of shape (2, 4, 3), got (2, 4, 4)"


def test_jpeg_quality_is_used_and_png_is_lossless():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    jpg = StreamFormat("jpg", "rgb24", 64, 64).frame_format()
    assert len(encode(rgb, jpg, quality=20)) < len(encode(rgb, jpg)) < len(encode(rgb, jpg, 100))
    png = StreamFormat("png", "rgb24", 64, 64).frame_format()
    np.testing.assert_array_equal(decode(png, encode(rgb, png), 1 << 24), rgb)


def test_alpha_is_opaque_in_raw_frames_with_alpha():
    fmt = StreamFormat("raw", "rgba", 2, 1).frame_format()
    assert encode(np.array([[[1, 2, 3], [4, 5, 6]]], np.uint8), fmt) == bytes(
        [1, 2, 3, 255, 4, 5, 6, 255]
    )
    padded = StreamFormat("raw", "rgb24", 2, 1, 2).frame_format()  # two bytes of padding
    assert encode(np.array([[[1, 2, 3], [4, 5, 6]]], np.uint8), padded) == bytes(
        [1, 2, 3, 4, 5, 6, 0, 0]
    )


def test_codec_formats_take_any_integer_array():
    rgb = np.arange(4 * 2 * 3).reshape(2, 4, 3) * 10  # int64
    for pixel_format in ("rgb565le", "yuv420p"):
        fmt = StreamFormat("raw", pixel_format, 4, 2).frame_format()
        assert encode(rgb, fmt) == encode(rgb.astype(np.uint8), fmt)


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_an_image_in_another_format_than_declared_is_refused():
    data = png_bytes(Image.new("RGB", (8, 8), (10, 20, 30)))
    jpg = StreamFormat("jpg", "rgb24", 8, 8).frame_format()
    with pytest.raises(InvalidArgument, match=r"^sample: not a decodable JPG image \("):
        decode(jpg, data, 1 << 24)


def test_an_image_with_alpha_reaches_the_processor_as_rgb():
    data = png_bytes(Image.new("RGBA", (8, 8), (10, 20, 30, 40)))
    png = StreamFormat("png", "rgb24", 8, 8).frame_format()
    frame = decode(png, data, 1 << 24)
    assert frame.shape == (8, 8, 3) and frame[0, 0].tolist() == [10, 20, 30]


@pytest.mark.parametrize("encoding", ["jpg", "png"])
def test_an_image_of_exactly_max_frame_pixels_is_decoded(encoding):
    fmt = StreamFormat(encoding, "rgb24", 16, 8).frame_format()
    data = encode(np.full((8, 16, 3), 128, np.uint8), fmt)
    assert decode(fmt, data, 16 * 8).shape == (8, 16, 3)
    with pytest.raises(InvalidArgument) as raised:
        decode(fmt, data, 16 * 8 - 1)
    assert raised.value.message == (
        f"sample: a 16x8 {encoding.upper()} image exceeds 127 pixels (maxFramePixels)"
    )
