"""Choosing a stream's processor from extension_configuration."""

from __future__ import annotations

import numpy as np
import pytest
from lva_extension import Frame
from lva_extension.client import StreamFormat
from lva_extension.errors import InvalidArgument
from lva_extension.frames import decode, encode
from lva_extension.processors import (
    LoadingRules,
    ProcessorSpec,
    create_processor,
    parse_configuration,
)
from lva_extension.processors.color_intensity import ColorIntensity, channel_sums, mean_luma

from tests.support.processors import ChannelMeans


@pytest.mark.parametrize(
    ("configuration", "spec"),
    [
        ("", ProcessorSpec("colorIntensity")),
        ("   ", ProcessorSpec("colorIntensity")),
        ("colorIntensity", ProcessorSpec("colorIntensity")),
        (
            "tests.support.processors:ChannelMeans",
            ProcessorSpec("tests.support.processors:ChannelMeans"),
        ),
        (
            '{"processor": "colorIntensity", "threshold": 90}',
            ProcessorSpec("colorIntensity", {"threshold": 90}),
        ),
        ('{"threshold": 90}', ProcessorSpec("colorIntensity", {"threshold": 90})),
    ],
)
def test_configuration_forms(configuration, spec):
    assert parse_configuration(configuration, "colorIntensity") == spec


@pytest.mark.parametrize(
    ("configuration", "message"),
    [
        ("[1, 2]", "expected a JSON object"),
        ('{"processor": 5}', '"processor" must be a non-empty string'),
        ('{"processor": ""}', '"processor" must be a non-empty string'),
        ("{nope", "not valid JSON"),
    ],
)
def test_malformed_configuration(configuration, message):
    with pytest.raises(InvalidArgument, match=message):
        parse_configuration(configuration, "colorIntensity")


TESTS = LoadingRules(allow_paths=True, allowed_modules=("tests",))


def test_processors_by_name_path_and_options():
    assert isinstance(create_processor(ProcessorSpec("colorIntensity"), TESTS), ColorIntensity)
    assert isinstance(
        create_processor(ProcessorSpec("tests.support.processors:ChannelMeans"), TESTS),
        ChannelMeans,
    )
    options = ProcessorSpec("colorIntensity", {"threshold": 60})
    assert create_processor(options, LoadingRules()).threshold == 60


def test_dotted_paths_are_off_unless_the_operator_allows_them():
    spec = ProcessorSpec("tests.support.processors:ChannelMeans")
    with pytest.raises(InvalidArgument, match=r"is not allowed: this server loads no dotted"):
        create_processor(spec, LoadingRules())
    with pytest.raises(InvalidArgument, match=r"may name modules under my_models"):
        create_processor(spec, LoadingRules(True, ("my_models",)))
    # The operator's defaultProcessor is loaded whatever the rules.
    trusted = LoadingRules(trusted=frozenset({spec.name}))
    assert isinstance(create_processor(spec, trusted), ChannelMeans)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (ProcessorSpec("nope"), r"known processors: colorIntensity"),
        (ProcessorSpec("colorIntensity", {"threshold": 300}), r"between 0 and 255"),
        (ProcessorSpec("colorIntensity", {"bogus": 1}), "unexpected keyword argument 'bogus'"),
    ],
)
def test_bad_processor_requests(spec, message):
    with pytest.raises(InvalidArgument, match=message):
        create_processor(spec, LoadingRules())


@pytest.mark.parametrize(
    ("rgb", "expected"),
    [
        ((0, 0, 0), "dark"),
        ((255, 255, 255), "light"),
        ((126, 126, 126), "dark"),
        ((127, 127, 127), "light"),
        # luma = 0.299 R + 0.587 G + 0.114 B:
        # pure green 217 is 127.4 (light), pure red 255 is 76 (dark)
        ((0, 217, 0), "light"),
        ((255, 0, 0), "dark"),
    ],
)
def test_color_intensity_uses_bt601_luma_of_every_pixel(rgb, expected):
    image = np.empty((9, 11, 3), dtype=np.uint8)
    image[:] = rgb
    (result,) = ColorIntensity().process([Frame(image, 0)])
    assert result[0].classification.tag.value == expected
    assert result[0].subtype == "colorIntensity"


@pytest.mark.parametrize("pixel_format", ["rgb24", "bgr24", "rgba", "bgra", "argb", "abgr"])
@pytest.mark.parametrize("padding", [0, 3])
def test_channel_sums_are_exact_for_every_raw_layout(pixel_format, padding):
    fmt = StreamFormat("raw", pixel_format, 31, 17, padding).frame_format()
    rgb = np.random.default_rng(2).integers(0, 256, (17, 31, 3), dtype=np.uint8)
    view = decode(fmt, encode(rgb, fmt), 10**9)
    expected = rgb.reshape(-1, 3).sum(axis=0, dtype=np.uint64)
    np.testing.assert_array_equal(channel_sums(view), expected)


def test_mean_luma_matches_per_pixel_float_luma():
    image = np.random.default_rng(1).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    per_pixel = (image.astype(np.float64) @ np.array([0.299, 0.587, 0.114])).mean()
    assert mean_luma(image) == pytest.approx(per_pixel, rel=1e-12)
    # also on a non-contiguous view (BGR order expressed as a negative stride)
    assert mean_luma(image[:, :, ::-1][:, :, ::-1]) == pytest.approx(per_pixel, rel=1e-12)


def test_channel_sums_do_not_overflow_on_tall_white_frames():
    # More rows than one uint16 block holds, every value at its maximum.
    image = np.full((1000, 7, 3), 255, dtype=np.uint8)
    assert channel_sums(image).tolist() == [255 * 7000] * 3
    assert channel_sums(image[:, :, ::-1]).tolist() == [255 * 7000] * 3
