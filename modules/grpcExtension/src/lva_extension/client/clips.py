"""Frames for the client to send: a video file, an image, or a generated clip (dark/light or
moving boxes)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class MovingBox:
    """A box that crosses the frame during frames [start, stop) and is absent otherwise."""

    start: int
    stop: int
    size: tuple[float, float]  # width, height: fractions of the frame
    origin: tuple[float, float]  # top-left at ``start``, fractions of the frame
    target: tuple[float, float]  # top-left at ``stop - 1``
    level: int = 230  # grey level

    def box(self, index: int) -> tuple[float, float, float, float] | None:
        """(left, top, width, height) in fractions of the frame at frame ``index``, or None."""
        if not self.start <= index < self.stop:
            return None
        progress = (index - self.start) / max(self.stop - self.start - 1, 1)
        left = self.origin[0] + (self.target[0] - self.origin[0]) * progress
        top = self.origin[1] + (self.target[1] - self.origin[1]) * progress
        return (left, top, *self.size)


def moving_boxes(count: int) -> tuple[MovingBox, ...]:
    """The moving scene's boxes for a clip of ``count`` frames: two bursts of motion.

    Still for the first fifth, one box crossing from left to right in 20-45 %,
    still again, a second box crossing downwards in 65-85 %, still to the end.
    """

    def frame(fraction: float) -> int:
        return round(count * fraction)

    return (
        MovingBox(frame(0.20), frame(0.45), (0.2, 0.25), (0.05, 0.35), (0.75, 0.35)),
        MovingBox(frame(0.65), frame(0.85), (0.15, 0.2), (0.45, 0.05), (0.45, 0.75), 200),
    )


def moving_frames(
    width: int, height: int, count: int, boxes: Sequence[MovingBox] | None = None
) -> Iterator[np.ndarray]:
    """``count`` RGB frames: light boxes moving over a still, dark, textured background.

    Where each box is in each frame is known (``MovingBox.box``), so motion
    detection and event-based recording can be checked against it.
    """
    boxes = moving_boxes(count) if boxes is None else boxes
    rows = np.arange(height, dtype=np.int32)[:, None]
    columns = np.arange(width, dtype=np.int32)[None, :]
    # A fixed pattern, so the background holds still for a motion detector.
    texture = DARK + ((rows // 8 + columns // 8) % 2) * 12
    background = np.repeat(texture.astype(np.uint8)[:, :, None], 3, axis=2)
    for index in range(count):
        frame = background.copy()
        for moving in boxes:
            box = moving.box(index)
            if box is None:
                continue
            left, top = round(box[0] * width), round(box[1] * height)
            right, bottom = left + round(box[2] * width), top + round(box[3] * height)
            frame[max(top, 0) : bottom, max(left, 0) : right] = moving.level
        yield frame


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


def write_clip(
    path: Path, frames: Iterator[np.ndarray], fps: int = 15, gop: int | None = None
) -> int:
    """Encode RGB frames into a video file with PyAV; returns the frame count.

    With ``gop``, H.264 gets a keyframe exactly every ``gop`` frames and no
    B-frames, so cut points and recording lengths are known.
    """
    import av

    written = 0
    with av.open(str(path), mode="w") as container:
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        options = {}
        if gop is not None:
            options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0", "bf": "0"}
        stream = container.add_stream(codec, rate=Fraction(fps), options=options)
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
