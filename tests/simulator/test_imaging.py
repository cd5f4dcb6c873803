"""Image scale modes, formats and frame-rate limits of the gRPC extension node."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from lva_extension.client import StreamFormat
from lva_extension.frames import decode
from lva_simulator.graph.imaging import ImageSpec
from lva_simulator.graph.sampling import RateLimit


def spec(mode: str, width: int | None, height: int | None, **fmt: object) -> ImageSpec:
    return ImageSpec(mode, width, height, str(fmt.get("encoding", "raw")), "rgb24")


@pytest.mark.parametrize(
    ("mode", "width", "height", "expected"),
    [
        ("stretch", 100, 100, (100, 100)),
        ("pad", 100, 100, (100, 100)),
        ("preserveAspectRatio", 100, 100, (100, 50)),
        ("preserveAspectRatio", 100, None, (100, 50)),
        ("preserveAspectRatio", None, 30, (60, 30)),
        ("preserveAspectRatio", 400, 50, (100, 50)),
        ("none", None, None, (200, 100)),
    ],
)
def test_output_size_of_each_scale_mode(mode, width, height, expected):
    assert spec(mode, width, height).output_size(200, 100) == expected


def test_pad_letterboxes_on_black_and_keeps_the_picture():
    white = np.full((100, 200, 3), 255, dtype=np.uint8)
    out = spec("pad", 100, 100).scale(white)
    assert out.shape == (100, 100, 3)
    assert (out[:25] == 0).all() and (out[75:] == 0).all()  # bars above and below
    assert (out[25:75] == 255).all()


def test_stretch_fills_the_frame():
    white = np.full((100, 200, 3), 255, dtype=np.uint8)
    assert (spec("stretch", 50, 80).scale(white) == 255).all()


@pytest.mark.parametrize("pixel_format", ["rgb24", "bgr24", "argb", "rgba", "abgr", "bgra"])
def test_raw_formats_decode_back_to_the_same_picture(pixel_format):
    frame = np.zeros((48, 64, 3), dtype=np.uint8)
    frame[:] = (10, 120, 230)
    image = ImageSpec("stretch", 32, 24, "raw", pixel_format)
    data = image.convert(frame)
    fmt = StreamFormat("raw", pixel_format, 32, 24).frame_format()
    assert decode(fmt, data, 10**6).reshape(-1, 3).tolist() == [[10, 120, 230]] * 32 * 24


@pytest.mark.parametrize(
    ("encoding", "magic"), [("jpg", b"\xff\xd8"), ("png", b"\x89PNG"), ("bmp", b"BM")]
)
def test_encoded_formats(encoding, magic):
    data = ImageSpec("none", None, None, encoding, "rgb24").convert(
        np.zeros((8, 8, 3), dtype=np.uint8)
    )
    assert data.startswith(magic)


@pytest.mark.parametrize(
    ("fps", "limit", "kept"),
    [
        (15, Fraction(5), [0, 3, 6, 9, 12, 15]),
        (15, Fraction(10), [0, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17]),
        (15, Fraction(30), list(range(18))),
        (15, None, list(range(18))),
        (30, Fraction(1, 2), [0]),
    ],
)
def test_rate_limit_keeps_the_first_frame_of_each_slot(fps, limit, kept):
    rate = RateLimit(limit)
    assert [i for i in range(18) if rate.admit(Fraction(i, fps))] == kept


@pytest.mark.parametrize(
    ("fps", "limit", "kept"),
    [
        (15, Fraction(15), list(range(18))),  # every frame: none shares a slot
        (30, Fraction(15), list(range(0, 18, 2))),
        (30, Fraction(30), list(range(18))),
    ],
)
def test_rate_limit_on_millisecond_timestamps(fps, limit, kept):
    # Matroska stores milliseconds: 1/15 s is stamped 0.067 s, 2/15 s is 0.133 s.
    rate = RateLimit(limit)
    stamps = [Fraction(round(i * 1000 / fps), 1000) for i in range(18)]
    assert [i for i, pts in enumerate(stamps) if rate.admit(pts)] == kept
