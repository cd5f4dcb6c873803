"""Preprocessing a frame for a model, measured by library: the numbers behind the choice.

    .venv/bin/python bench/preprocess.py [--repeat 7]

A 416x416 frame as the server sees it (a view of shared-memory bytes, RGB24
and BGR24) into its slot of a 224x224 float32 NCHW tensor with ImageNet
normalisation, on one thread. Each way is timed over a few hundred frames,
several times; it prints the best and the median time per frame (the best is
what the code costs, the median what a busy machine let it have). The ways:

- before: the onnx processor before the model server (Pillow resize of a packed
  copy into a canvas, then np.stack, astype, scale, transpose, contiguous copy);
- pillow / opencv: frames.resize.resize_into on that library, then the slot
  conversion of processors/onnx/fitting.py (what the server does);
- numpy bilinear: a separable bilinear resize in numpy (no extra dependency);
- numpy nearest: one gather (fast, but a different, blockier image).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
from lva_extension.client.clips import dark_light_frames
from lva_extension.frames import FrameFormat, PixelFormat, decode, encode
from lva_extension.frames.format import Encoding
from lva_extension.frames.resize import fit, planes, resize_backend, resize_into

SIZE, MODEL = 416, 224
SCALE = (1 / 255 / np.array([0.229, 0.224, 0.225])).astype(np.float32)
OFFSET = (-np.array([0.485, 0.456, 0.406]) / np.array([0.229, 0.224, 0.225])).astype(np.float32)


def shared_memory_view(pixel_format: int) -> np.ndarray:
    """A frame decoded as the server decodes a shared-memory sample: a view of the bytes."""
    rgb = next(iter(dark_light_frames(SIZE, SIZE, 1)))  # a scene, not noise
    fmt = FrameFormat(Encoding.RAW, pixel_format, SIZE, SIZE, SIZE * 3)
    return decode(fmt, memoryview(encode(rgb, fmt)), 10**8)


def convert(pixels: np.ndarray, slot: np.ndarray) -> None:
    """The slot conversion of fitting.py: per plane, one pass to scale, one to offset."""
    for channel, plane in enumerate(planes(pixels)):
        np.multiply(plane, SCALE[channel], out=slot[channel])
        np.add(slot[channel], OFFSET[channel], out=slot[channel])


def before(image: np.ndarray, slot: np.ndarray) -> None:
    canvas, _ = fit_with_pillow(image)
    images = np.stack([canvas])
    tensor = images.astype(np.float32) * SCALE + OFFSET
    slot[...] = np.ascontiguousarray(tensor.transpose(0, 3, 1, 2))[0]


def fit_with_pillow(image: np.ndarray) -> tuple[np.ndarray, object]:
    from PIL import Image

    resized = Image.fromarray(np.ascontiguousarray(image)).resize(
        (MODEL, MODEL), Image.Resampling.BILINEAR
    )
    return np.asarray(resized), None


def by_library(backend: str) -> Callable[[np.ndarray, np.ndarray], None]:
    staging = np.empty((MODEL, MODEL, 3), dtype=np.uint8)

    def way(image: np.ndarray, slot: np.ndarray) -> None:
        convert(resize_into(image, staging, backend), slot)

    return way


def numpy_bilinear() -> Callable[[np.ndarray, np.ndarray], None]:
    def table(size_in: int, size_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        centres = np.clip((np.arange(size_out) + 0.5) * size_in / size_out - 0.5, 0, size_in - 1)
        low = np.floor(centres).astype(np.intp)
        return low, np.minimum(low + 1, size_in - 1), (centres - low).astype(np.float32)

    y0, y1, wy = table(SIZE, MODEL)
    x0, x1, wx = table(SIZE, MODEL)

    def way(image: np.ndarray, slot: np.ndarray) -> None:
        top, bottom = image[y0].astype(np.float32), image[y1].astype(np.float32)
        rows = top + (bottom - top) * wy[:, None, None]
        left, right = rows[:, x0], rows[:, x1]
        resized = left + (right - left) * wx[None, :, None]
        np.multiply(resized.transpose(2, 0, 1), SCALE[:, None, None], out=slot)
        np.add(slot, OFFSET[:, None, None], out=slot)

    return way


def numpy_nearest() -> Callable[[np.ndarray, np.ndarray], None]:
    index = np.round((np.arange(MODEL) + 0.5) * SIZE / MODEL - 0.5).astype(np.intp)

    def way(image: np.ndarray, slot: np.ndarray) -> None:
        convert(image[index[:, None], index[None, :]], slot)

    return way


def time_per_frame(way: Callable[[np.ndarray, np.ndarray], None], image: np.ndarray) -> float:
    slot = np.empty((3, MODEL, MODEL), dtype=np.float32)
    way(image, slot)
    count = 200
    started = time.perf_counter()
    for _ in range(count):
        way(image, slot)
    return (time.perf_counter() - started) / count * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    ways: dict[str, Callable[[np.ndarray, np.ndarray], None]] = {
        "before (Pillow, stack, copies)": before,
        "pillow -> slot": by_library("pillow"),
        "opencv -> slot": by_library("opencv"),
        "numpy bilinear -> slot": numpy_bilinear(),
        "numpy nearest -> slot": numpy_nearest(),
    }
    print("416x416 shared-memory frame -> 224x224 float32 NCHW slot, ms per frame, one thread")
    print(f"(the server's backend here: {resize_backend()}; {args.repeat} runs of 200 frames)")
    print(f"{'way':<32} {'RGB24 best':>10} {'median':>8} {'BGR24 best':>10} {'median':>8}")
    for name, way in ways.items():
        cells = []
        for pixel_format in (PixelFormat.RGB24, PixelFormat.BGR24):
            image = shared_memory_view(pixel_format)
            times = [time_per_frame(way, image) for _ in range(args.repeat)]
            cells += [min(times), statistics.median(times)]
        print(f"{name:<32} {cells[0]:10.3f} {cells[1]:8.3f} {cells[2]:10.3f} {cells[3]:8.3f}")
    image = shared_memory_view(PixelFormat.RGB24)
    canvas, _ = fit(image, MODEL, MODEL, "stretch")
    reference = canvas.astype(np.float32).transpose(2, 0, 1) * SCALE[:, None, None]
    for name in ("pillow -> slot", "numpy bilinear -> slot"):
        slot = np.empty((3, MODEL, MODEL), dtype=np.float32)
        ways[name](image, slot)
        slot -= OFFSET[:, None, None]
        difference = np.abs(slot - reference).max() / SCALE.max()
        mean = np.abs(slot - reference).mean() / SCALE.max()
        print(
            f"{name}: differs from {resize_backend()} by {mean:.2f} grey levels on average,"
            f" {difference:.0f} at most (edges)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
