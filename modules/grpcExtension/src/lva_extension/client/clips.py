"""Frames for the client to send: a video file, an image, or a generated clip."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from itertools import islice
from pathlib import Path

import numpy as np
from PIL import Image

DARK, LIGHT = 40, 215  # grey levels of the generated scenes


def dark_light_frames(
    width: int, height: int, count: int, scene_frames: int = 15
) -> Iterator[np.ndarray]:
    """``count`` RGB frames in scenes of ``scene_frames``: dark, light, dark, ...

    Each frame has a little texture (a moving bar) so that encoders and
    decoders have something to do, while its mean stays clearly dark or light.
    """
    for index in range(count):
        dark = (index // scene_frames) % 2 == 0
        level = DARK if dark else LIGHT
        frame = np.full((height, width, 3), level, dtype=np.uint8)
        bar = (index * 7) % max(width - width // 16, 1)
        frame[:, bar : bar + width // 16] = level + (25 if dark else -25)
        yield frame


def is_dark_scene(index: int, scene_frames: int = 15) -> bool:
    """Whether frame ``index`` of dark_light_frames is in a dark scene."""
    return (index // scene_frames) % 2 == 0


def image_frames(path: Path, count: int) -> Iterator[np.ndarray]:
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"))
    for _ in range(count):
        yield rgb


def video_frames(path: Path, count: int | None = None, loop: bool = False) -> Iterator[np.ndarray]:
    """Decoded RGB frames of a video file (PyAV), optionally looped."""
    import av  # the optional "video" extra: imported only when a video is read

    def once() -> Iterator[np.ndarray]:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                yield frame.to_ndarray(format="rgb24")

    def forever() -> Iterator[np.ndarray]:
        while True:
            yield from once()

    yield from islice(forever() if loop else once(), count)


def write_clip(path: Path, frames: Iterator[np.ndarray], fps: int = 15) -> int:
    """Encode RGB frames into a video file with PyAV; returns the frame count."""
    import av

    written = 0
    with av.open(str(path), mode="w") as container:
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        stream = container.add_stream(codec, rate=Fraction(fps))
        assert isinstance(stream, av.VideoStream)
        stream.pix_fmt = "yuv420p"
        for rgb in frames:
            if written == 0:
                stream.width, stream.height = rgb.shape[1], rgb.shape[0]
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
            written += 1
        for packet in stream.encode():
            container.mux(packet)
    return written
