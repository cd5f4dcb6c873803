"""Descriptor validation and decoding of every supported frame format."""

from __future__ import annotations

import io

import numpy as np
import pytest
import simplejpeg
from lva_extension.client import StreamFormat
from lva_extension.errors import InvalidArgument
from lva_extension.frames import decode, encode, parse_format
from PIL import Image, ImageFile

from tests.support.streams import Format, descriptor

MAX = 40_000_000


def pattern(width: int = 7, height: int = 5) -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("pixel_format", ["rgb24", "bgr24", "rgba", "bgra", "argb", "abgr"])
@pytest.mark.parametrize("padding", [0, 5])
def test_raw_formats_round_trip_exactly_without_copying(pixel_format, padding):
    fmt = StreamFormat("raw", pixel_format, 7, 5, padding).frame_format()
    rgb = pattern()
    data = encode(rgb, fmt)
    assert len(data) == fmt.stride * 5

    decoded = decode(fmt, data, MAX)

    np.testing.assert_array_equal(decoded, rgb)
    assert not decoded.flags.writeable
    assert np.shares_memory(decoded, np.frombuffer(data, dtype=np.uint8))


def test_last_row_padding_may_be_left_out():
    fmt = StreamFormat("raw", "rgb24", 7, 5, 3).frame_format()
    data = encode(pattern(), fmt)
    np.testing.assert_array_equal(decode(fmt, data[:-3], MAX), pattern())


@pytest.mark.parametrize(
    ("size", "message"),
    [(0, "needs 105 bytes, got 0"), (104, "got 104"), (106, "got 106")],
)
def test_raw_sample_of_the_wrong_size(size, message):
    fmt = StreamFormat("raw", "rgb24", 7, 5).frame_format()
    with pytest.raises(InvalidArgument, match=message):
        decode(fmt, bytes(size), MAX)


@pytest.mark.parametrize("encoding", ["png", "bmp"])
def test_lossless_images_decode_exactly(encoding):
    fmt = StreamFormat(encoding, width=7, height=5).frame_format()
    np.testing.assert_array_equal(decode(fmt, encode(pattern(), fmt), MAX), pattern())


def test_jpeg_decodes_close_to_the_original():
    fmt = StreamFormat("jpg", width=64, height=48).frame_format()
    flat = np.full((48, 64, 3), (200, 100, 50), dtype=np.uint8)
    decoded = decode(fmt, encode(flat, fmt, quality=95), MAX)
    assert decoded.shape == (48, 64, 3)
    assert np.abs(decoded.astype(int) - flat).max() <= 3


@pytest.mark.parametrize(
    ("encoding", "pillow_format"), [("png", "PNG"), ("jpg", "JPEG"), ("bmp", "BMP")]
)
def test_decompression_bomb_is_refused_before_decoding(monkeypatch, encoding, pillow_format):
    out = io.BytesIO()
    Image.new("RGB", (4000, 4000)).save(out, format=pillow_format)
    fmt = StreamFormat(encoding, width=64, height=48).frame_format()
    # Every way a frame's pixels get decoded records itself: none may run.
    decoded: list[str] = []

    def recorded(name, real):
        def call(*args, **kwargs):
            decoded.append(name)
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(ImageFile.ImageFile, "load", recorded("pillow", ImageFile.ImageFile.load))
    monkeypatch.setattr(simplejpeg, "decode_jpeg", recorded("simplejpeg", simplejpeg.decode_jpeg))

    with pytest.raises(InvalidArgument, match="exceeds 1000000 pixels"):
        decode(fmt, out.getvalue(), 1_000_000)
    assert decoded == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pixel_format": Format.NONE}, "RAW frames need one of RGB24"),
        ({"pixel_format": 99}, "got 99"),
        ({"encoding": 7}, "expected one of BMP, JPG, PNG, RAW, got 7"),
        ({"width": 0}, "need a width and height"),
        ({"width": 10_000, "height": 10_000}, "this server accepts at most"),
        ({"stride": 191}, "at least 192 bytes, got 191"),
        ({"stride": 100_000}, "far more than a row"),
    ],
)
def test_descriptor_formats_that_are_refused(kwargs, message):
    media = descriptor(**kwargs).media_stream_descriptor.media_descriptor
    with pytest.raises(InvalidArgument, match=message):
        parse_format(media, MAX)


def test_descriptor_without_a_video_format_is_refused():
    media = descriptor().media_stream_descriptor.media_descriptor
    media.ClearField("video_frame_sample_format")
    with pytest.raises(InvalidArgument, match="video_frame_sample_format"):
        parse_format(media, MAX)


def test_encoded_formats_accept_missing_dimensions():
    media = descriptor(encoding=Format.JPG, width=0, height=0).media_stream_descriptor
    assert parse_format(media.media_descriptor, MAX).describe() == "JPG 0x0"


def jpeg_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK"])
def test_jpeg_decodes_like_pillow_whatever_its_colour_space(mode):
    rgb = Image.fromarray(pattern(64, 48).repeat(2, axis=0).repeat(2, axis=1))
    data = jpeg_bytes(rgb.convert(mode))
    fmt = StreamFormat("jpg", width=128, height=96).frame_format()
    with Image.open(io.BytesIO(data)) as reference:
        expected = np.asarray(reference.convert("RGB"))
    decoded = decode(fmt, data, MAX)
    assert decoded.shape == (96, 128, 3)
    assert np.abs(decoded.astype(int) - expected).max() <= 2


def test_truncated_jpeg_is_refused():
    noise = Image.fromarray(pattern(320, 240))
    data = jpeg_bytes(noise)
    fmt = StreamFormat("jpg", width=320, height=240).frame_format()
    with pytest.raises(InvalidArgument, match="not a decodable JPG"):
        decode(fmt, data[: len(data) * 9 // 10], MAX)
