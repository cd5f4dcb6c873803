"""The RAW formats that are converted: RGB565LE/BE, RGB555LE/BE and YUV420P.

Each decodes a known pattern to the same RGB as the RGB24 version of that
pattern: exactly for 16-bit RGB (the pattern uses colours 16 bits can hold),
within YUV_TOLERANCE for YUV420P (8-bit BT.601 limited-range quantisation;
the pattern is constant over 2x2 blocks, as 4:2:0 chroma is).
"""

from __future__ import annotations

import numpy as np
import pytest
from lva_extension.client import ClientOptions, StreamFormat
from lva_extension.errors import InvalidArgument
from lva_extension.frames import decode, encode, parse_format

from tests.support.streams import Format, descriptor, run_client

MAX = 40_000_000
YUV_TOLERANCE = 2  # grey levels per channel; the largest error seen is 1
RGB16 = ["rgb565le", "rgb565be", "rgb555le", "rgb555be"]


def widen(values: np.ndarray, bits: int) -> np.ndarray:
    """What a decoder must make of n-bit channel values: the bits repeated."""
    values = values.astype(np.uint16)
    return ((values << (8 - bits)) | (values >> (2 * bits - 8))).astype(np.uint8)


def rgb16_pattern(pixel_format: str, width: int, height: int) -> np.ndarray:
    """Random colours that 5-6-5 (or 5-5-5) bits represent exactly."""
    rng = np.random.default_rng(16)
    green = 6 if "565" in pixel_format else 5
    pattern = np.empty((height, width, 3), dtype=np.uint8)
    for channel, bits in enumerate((5, green, 5)):
        pattern[:, :, channel] = widen(rng.integers(0, 1 << bits, size=(height, width)), bits)
    return pattern


def yuv_pattern(width: int, height: int) -> np.ndarray:
    """Random colours, constant over each 2x2 block (cut at odd edges)."""
    rng = np.random.default_rng(420)
    blocks = rng.integers(0, 256, size=((height + 1) // 2, (width + 1) // 2, 3), dtype=np.uint8)
    return np.ascontiguousarray(blocks.repeat(2, axis=0).repeat(2, axis=1)[:height, :width])


def rgb24(pattern: np.ndarray) -> np.ndarray:
    height, width = pattern.shape[:2]
    fmt = StreamFormat("raw", "rgb24", width, height).frame_format()
    return decode(fmt, encode(pattern, fmt), MAX)


@pytest.mark.parametrize("pixel_format", RGB16)
@pytest.mark.parametrize(("width", "height", "padding"), [(8, 6, 0), (7, 5, 6), (33, 3, 1)])
def test_rgb16_formats_decode_like_rgb24(pixel_format, width, height, padding):
    fmt = StreamFormat("raw", pixel_format, width, height, padding).frame_format()
    pattern = rgb16_pattern(pixel_format, width, height)
    data = encode(pattern, fmt)
    assert len(data) == (2 * width + padding) * height

    decoded = decode(fmt, data, MAX)

    np.testing.assert_array_equal(decoded, rgb24(pattern))
    assert decoded.shape == (height, width, 3)
    assert not decoded.flags.writeable


@pytest.mark.parametrize(
    ("width", "height", "padding"), [(8, 6, 0), (16, 4, 4), (7, 5, 0), (9, 3, 5), (1, 1, 0)]
)
def test_yuv420p_decodes_like_rgb24_within_the_tolerance(width, height, padding):
    fmt = StreamFormat("raw", "yuv420p", width, height, padding).frame_format()
    pattern = yuv_pattern(width, height)
    data = encode(pattern, fmt)
    stride = width + padding
    assert len(data) == stride * height + 2 * ((stride + 1) // 2) * ((height + 1) // 2)

    decoded = decode(fmt, data, MAX)

    assert decoded.shape == (height, width, 3)
    assert not decoded.flags.writeable
    error = np.abs(decoded.astype(int) - rgb24(pattern).astype(int))
    assert error.max() <= YUV_TOLERANCE


# Hand-made bytes, independent of our encoder: (format, bytes of one pixel, RGB).
KNOWN_PIXELS = [
    ("rgb565le", b"\x00\xf8", (255, 0, 0)),
    ("rgb565le", b"\xe0\x07", (0, 255, 0)),
    ("rgb565le", b"\x1f\x00", (0, 0, 255)),
    ("rgb565le", b"\x10\x84", (132, 130, 132)),  # 10000 100000 10000
    ("rgb565be", b"\xf8\x00", (255, 0, 0)),
    ("rgb565be", b"\x07\xe0", (0, 255, 0)),
    ("rgb565be", b"\x00\x1f", (0, 0, 255)),
    ("rgb555le", b"\x00\x7c", (255, 0, 0)),
    ("rgb555le", b"\xe0\x03", (0, 255, 0)),
    ("rgb555le", b"\x1f\x00", (0, 0, 255)),
    ("rgb555le", b"\xff\xff", (255, 255, 255)),  # the unused top bit is ignored
    ("rgb555be", b"\x7c\x00", (255, 0, 0)),
    ("rgb555be", b"\x03\xe0", (0, 255, 0)),
    ("rgb555be", b"\x00\x1f", (0, 0, 255)),
]


@pytest.mark.parametrize(("pixel_format", "pixel", "rgb"), KNOWN_PIXELS)
def test_rgb16_known_pixels(pixel_format, pixel, rgb):
    fmt = StreamFormat("raw", pixel_format, 2, 1).frame_format()
    decoded = decode(fmt, pixel * 2, MAX)
    assert decoded.tolist() == [[list(rgb), list(rgb)]]


# BT.601 limited range: (Y, U, V) -> RGB.
KNOWN_YUV = [
    ((16, 128, 128), (0, 0, 0)),
    ((235, 128, 128), (255, 255, 255)),
    ((126, 128, 128), (128, 128, 128)),
    ((81, 90, 240), (255, 0, 0)),
    ((145, 54, 34), (0, 255, 0)),
    ((41, 240, 110), (0, 0, 255)),
]


@pytest.mark.parametrize(("yuv", "rgb"), KNOWN_YUV)
def test_yuv420p_known_colours(yuv, rgb):
    fmt = StreamFormat("raw", "yuv420p", 2, 2).frame_format()
    y, u, v = yuv
    decoded = decode(fmt, bytes([y] * 4 + [u, v]), MAX)
    assert np.abs(decoded.astype(int) - rgb).max() <= YUV_TOLERANCE


def test_yuv420p_planes_are_where_the_stride_says():
    # 4x2 frame, luma stride 6: Y rows of 6 bytes, chroma rows of 3 (2 samples + 1 padding).
    fmt = StreamFormat("raw", "yuv420p", 4, 2, stride_padding=2).frame_format()
    luma = [235, 235, 16, 16, 0, 0] * 2
    u, v = [128, 128, 0], [128, 128, 0]
    decoded = decode(fmt, bytes(luma + u + v), MAX)
    assert decoded[:, :2].tolist() == [[[255, 255, 255]] * 2] * 2
    assert decoded[:, 2:].tolist() == [[[0, 0, 0]] * 2] * 2


def test_yuv420p_accepts_unpadded_chroma_rows_and_an_omitted_last_padding():
    fmt = StreamFormat("raw", "yuv420p", 6, 4, stride_padding=4).frame_format()
    pattern = yuv_pattern(6, 4)
    padded = encode(pattern, fmt)  # luma rows of 10 bytes, chroma rows of 5
    y_plane, chroma = padded[:40], padded[40:]
    u_rows = [chroma[i * 5 : i * 5 + 3] for i in range(2)]
    v_rows = [chroma[10 + i * 5 : 10 + i * 5 + 3] for i in range(2)]
    unpadded = y_plane + b"".join(u_rows) + b"".join(v_rows)

    expected = decode(fmt, padded, MAX)
    np.testing.assert_array_equal(decode(fmt, unpadded, MAX), expected)
    np.testing.assert_array_equal(decode(fmt, padded[:-2], MAX), expected)


@pytest.mark.parametrize(
    ("pixel_format", "size", "message"),
    [
        ("rgb565le", 0, "needs 96 bytes, got 0"),
        ("rgb555be", 97, "needs 96 bytes, got 97"),
        ("yuv420p", 71, "needs 72 bytes, got 71"),
        ("yuv420p", 96, "needs 72 bytes, got 96"),
    ],
)
def test_samples_of_the_wrong_size(pixel_format, size, message):
    fmt = StreamFormat("raw", pixel_format, 8, 6).frame_format()
    with pytest.raises(InvalidArgument, match=message):
        decode(fmt, bytes(size), MAX)


def test_yuv420p_with_padded_rows_names_both_layouts_when_the_size_is_wrong():
    fmt = StreamFormat("raw", "yuv420p", 8, 6, stride_padding=2).frame_format()
    # luma 10 x 6 = 60; chroma 5 x 3 (padded) or 4 x 3 (unpadded) per plane
    with pytest.raises(InvalidArgument, match="needs 89 to 90 or 84 bytes, got 85"):
        decode(fmt, bytes(85), MAX)


@pytest.mark.parametrize(
    ("pixel_format", "stride", "message"),
    [
        (Format.RGB565LE, 15, "at least 16 bytes, got 15"),
        (Format.YUV420P, 7, "at least 8 bytes, got 7"),
    ],
)
def test_descriptor_strides_that_are_refused(pixel_format, stride, message):
    media = descriptor(8, 6, pixel_format=pixel_format, stride=stride).media_stream_descriptor
    with pytest.raises(InvalidArgument, match=message):
        parse_format(media.media_descriptor, MAX)


@pytest.mark.parametrize("pixel_format", [*RGB16, "yuv420p"])
@pytest.mark.parametrize("shared_memory", [False, True], ids=["embedded", "shm"])
def test_the_client_sends_every_format_and_the_server_decodes_it(
    server, pixel_format, shared_memory
):
    pattern = (
        yuv_pattern(32, 24) if pixel_format == "yuv420p" else rgb16_pattern(pixel_format, 32, 24)
    )
    options = ClientOptions(
        server.address,
        StreamFormat("raw", pixel_format, 32, 24, stride_padding=2),
        shared_memory=shared_memory,
        extension_configuration="tests.support.processors:ChannelMeans",
    )
    results, summary = run_client(options, [pattern] * 3)

    assert not summary.violations
    means = [round(float(pattern[:, :, c].mean())) for c in range(3)]
    for result in results:
        r, g, b, size = result.inferences[0].classification.tag.value.split(",")
        assert size == "32x24"
        assert np.abs(np.array([int(r), int(g), int(b)]) - means).max() <= (
            YUV_TOLERANCE if pixel_format == "yuv420p" else 0
        )
