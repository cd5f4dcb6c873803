"""The one resize helper: into an array the caller owns, from frames where they lie."""

from __future__ import annotations

import numpy as np
import pytest
from lva_extension.frames import FrameFormat, PixelFormat, decode
from lva_extension.frames.format import Encoding
from lva_extension.frames.resize import (
    fit,
    placement,
    planes,
    resize,
    resize_backend,
    resize_into,
)

BACKENDS = ["opencv", "pillow"]


def gradient(width: int = 416, height: int = 416) -> np.ndarray:
    """A smooth RGB image: resizing it well changes each pixel by at most a grey level or two."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // width, y * 255 // height, (x + y) * 255 // (width + height)], -1)


def raw_view(rgb: np.ndarray, pixel_format: int, padding: int = 0) -> np.ndarray:
    """The frame as the server sees it: a view of RAW bytes (BGR order, padded rows)."""
    height, width = rgb.shape[:2]
    bgr = pixel_format == PixelFormat.BGR24
    packed = (rgb[..., ::-1] if bgr else rgb).astype(np.uint8)
    rows = np.zeros((height, width * 3 + padding), dtype=np.uint8)
    rows[:, : width * 3] = packed.reshape(height, -1)
    fmt = FrameFormat(Encoding.RAW, pixel_format, width, height, width * 3 + padding)
    return decode(fmt, memoryview(rows.tobytes()), 10**8)


def test_opencv_is_the_backend_of_the_development_set_up():
    assert resize_backend() == "opencv"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("pixel_format", [PixelFormat.RGB24, PixelFormat.BGR24])
@pytest.mark.parametrize("padding", [0, 5])
def test_resize_into_reads_frames_where_they_lie(backend, pixel_format, padding):
    source = gradient()
    view = raw_view(source, pixel_format, padding)
    out = np.zeros((224, 224, 3), dtype=np.uint8)

    result = resize_into(view, out, backend)

    assert np.shares_memory(result, out)
    expected = resize_into(source.astype(np.uint8), np.zeros_like(out), backend)
    np.testing.assert_array_equal(result, expected)
    # Resizing a smooth gradient: within two grey levels of the exact scaling.
    exact = gradient(224, 224)
    assert np.abs(result.astype(int) - exact).max() <= 2


def test_both_backends_agree_within_a_few_grey_levels():
    source = gradient().astype(np.uint8)
    by_opencv = resize_into(source, np.zeros((224, 224, 3), np.uint8), "opencv")
    by_pillow = resize_into(source, np.zeros((224, 224, 3), np.uint8), "pillow")
    assert np.abs(by_opencv.astype(int) - by_pillow).max() <= 2


def test_resize_into_a_region_of_a_larger_array():
    canvas = np.full((100, 100, 3), 7, dtype=np.uint8)
    region = canvas[10:60, 20:70]
    resize_into(np.full((200, 200, 3), 200, dtype=np.uint8), region)
    assert (canvas[10:60, 20:70] == 200).all()
    assert (canvas[:10] == 7).all() and (canvas[:, :20] == 7).all()


def test_resize_returns_packed_rgb_and_the_frame_itself_when_it_fits():
    frame = raw_view(gradient(64, 48), PixelFormat.BGR24)
    assert resize(frame, 64, 48) is frame
    small = resize(frame, 32, 24)
    assert small.flags.c_contiguous
    np.testing.assert_array_equal(small, resize(gradient(64, 48).astype(np.uint8), 32, 24))


@pytest.mark.parametrize(
    ("frame", "canvas", "mode", "expected"),
    [
        ((200, 100), (100, 100), "letterbox", (1.0 / 2, 1.0 / 2, 0.0, 25.0, 100, 50)),
        ((50, 100), (100, 100), "letterbox", (1.0, 1.0, 25.0, 0.0, 50, 100)),
        ((200, 100), (100, 100), "stretch", (0.5, 1.0, 0.0, 0.0, 100, 100)),
        ((100, 100), (100, 100), "letterbox", (1.0, 1.0, 0.0, 0.0, 100, 100)),
    ],
)
def test_placement(frame, canvas, mode, expected):
    where = placement(*frame, *canvas, mode)
    got = (
        where.scale_x,
        where.scale_y,
        where.pad_x,
        where.pad_y,
        where.inner_width,
        where.inner_height,
    )
    assert got == expected


def test_fit_letterboxes_bgr_frames_in_order():
    frame = raw_view(np.full((50, 100, 3), (10, 20, 30)), PixelFormat.BGR24)
    canvas, _ = fit(frame, 64, 64, "letterbox", 114)
    assert (canvas[:16] == 114).all() and (canvas[48:] == 114).all()
    assert (canvas[16:48] == (10, 20, 30)).all()


@pytest.mark.parametrize("pixel_format", [PixelFormat.RGB24, PixelFormat.BGR24])
def test_planes_are_the_channels_in_order(pixel_format):
    rgb = gradient(64, 48)
    view = raw_view(rgb, pixel_format, padding=3)
    red, green, blue = planes(view)
    for plane, channel in zip((red, green, blue), range(3), strict=True):
        np.testing.assert_array_equal(plane, rgb[..., channel])
