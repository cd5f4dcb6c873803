"""Frames straight into their slots of a model's input tensor.

The reference is the plain formula: the frame fitted to a canvas (frames.resize.fit),
in the model's colour order, times the scale plus the offset, in its layout.
"""

from __future__ import annotations

import numpy as np
import pytest
from lva_extension.frames import FrameFormat, PixelFormat, decode
from lva_extension.frames.format import Encoding
from lva_extension.frames.resize import fit
from lva_extension.processors.onnx.fitting import Fitter
from lva_extension.processors.onnx.options import OnnxOptions
from lva_extension.processors.onnx.session import ModelInput

RNG = np.random.default_rng(7)
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def model_input(dtype=np.float32, channels_last: bool = False, size=(64, 48)) -> ModelInput:
    return ModelInput("X", dtype, size[0], size[1], channels_last, None, True)


def options(**keys) -> OnnxOptions:
    return OnnxOptions.parse({"model": "m.onnx", **keys})


def reference(image: np.ndarray, fitter: Fitter, opts: OnnxOptions) -> np.ndarray:
    canvas, _ = fit(image, fitter.model.width, fitter.model.height, opts.resize, opts.pad_value)
    if opts.color_order == "BGR":
        canvas = canvas[..., ::-1]
    if fitter.model.dtype == np.uint8:
        tensor = canvas
    else:
        scale, offset = opts.normalisation()
        tensor = (canvas.astype(np.float32) * scale + offset).astype(fitter.model.dtype)
    return tensor if fitter.model.channels_last else tensor.transpose(2, 0, 1)


def bgr24_view(rgb: np.ndarray, padding: int = 4) -> np.ndarray:
    """A BGR24 frame with padded rows, decoded as the server does: a view of the bytes."""
    height, width = rgb.shape[:2]
    rows = np.zeros((height, width * 3 + padding), dtype=np.uint8)
    rows[:, : width * 3] = rgb[..., ::-1].reshape(height, -1)
    fmt = FrameFormat(Encoding.RAW, PixelFormat.BGR24, width, height, width * 3 + padding)
    return decode(fmt, memoryview(rows.tobytes()), 10**8)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.uint8])
@pytest.mark.parametrize("channels_last", [False, True], ids=["NCHW", "NHWC"])
@pytest.mark.parametrize("color_order", ["RGB", "BGR"])
@pytest.mark.parametrize("resize", ["stretch", "letterbox"])
@pytest.mark.parametrize("frame_size", [(64, 48), (128, 48), (100, 75)])
def test_a_slot_holds_exactly_what_the_formula_says(
    dtype, channels_last, color_order, resize, frame_size
):
    scaling = {} if dtype == np.uint8 else {"mean": MEAN, "std": STD}
    opts = options(colorOrder=color_order, resize=resize, **scaling)
    fitter = Fitter(model_input(dtype, channels_last), opts)
    image = RNG.integers(0, 256, (frame_size[1], frame_size[0], 3), dtype=np.uint8)
    tensor = fitter.allocate(2)
    tensor[:] = 99  # whatever the last batch left there

    where = fitter.fit_into(image, tensor[1])

    np.testing.assert_array_equal(tensor[1], reference(image, fitter, opts))
    assert (tensor[0] == 99).all()  # the other slot untouched
    _, expected = fit(image, 64, 48, resize, opts.pad_value)
    assert where == expected


@pytest.mark.parametrize("frame_size", [(64, 48), (128, 96)])
def test_frames_are_read_where_they_lie(frame_size):
    opts = options(mean=MEAN, std=STD)
    fitter = Fitter(model_input(), opts)
    rgb = RNG.integers(0, 256, (frame_size[1], frame_size[0], 3), dtype=np.uint8)
    view = bgr24_view(rgb)
    assert not view.flags.c_contiguous  # reversed channels, padded rows

    from_view, from_array = fitter.allocate(1), fitter.allocate(1)
    fitter.fit_into(view, from_view[0])
    fitter.fit_into(rgb, from_array[0])

    np.testing.assert_array_equal(from_view, from_array)


def test_uint8_models_refuse_scaling():
    with pytest.raises(ValueError, match="scale, mean and std do not apply"):
        Fitter(model_input(np.uint8), options(mean=MEAN))


def test_each_thread_resizes_into_its_own_buffer():
    from concurrent.futures import ThreadPoolExecutor

    fitter = Fitter(model_input(), options())
    frames = [np.full((96, 128, 3), value, np.uint8) for value in range(0, 256, 8)]
    tensor = fitter.allocate(len(frames))
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(fitter.fit_into, frames, tensor))
    for value, slot in zip(range(0, 256, 8), tensor, strict=True):
        np.testing.assert_allclose(slot, np.float32(value) / 255, rtol=1e-6)
