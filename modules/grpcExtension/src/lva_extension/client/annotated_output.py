"""``lva-extension send --annotate OUT``: every answered frame, with its inferences drawn.

OUT ending in ``.mp4`` is an H.264 video (PyAV; MPEG-4 Part 2 where the
FFmpeg build has no libx264) timed by the frames' own timestamps; anything
else is a folder of JPEGs named by sample sequence number (``000002.jpg``).

The client sends frames and gets answers later, so :meth:`AnnotatedOutput.stamp`
gives each frame its timestamp on the way out and keeps it until its answer
comes back to :meth:`AnnotatedOutput.write`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from . import annotate
from .extension_client import TimedFrame
from .tracking import FrameResult

JPEG_QUALITY = 90


class AnnotatedOutput:
    def __init__(self, target: Path, timescale: int = 90_000, nominal_fps: float = 30.0) -> None:
        self.target = target
        self.timescale = timescale
        self.nominal_fps = nominal_fps
        self.written = 0
        self._sent: dict[int, np.ndarray] = {}
        self._video: _Mp4 | None = None
        if target.suffix.lower() == ".mp4":
            if not target.parent.is_dir():
                raise FileNotFoundError(f"--annotate: no such folder: {target.parent}")
            self._video = _Mp4(target, timescale)
        else:
            if target.exists() and not target.is_dir():
                raise FileExistsError(f"--annotate: {target} is a file, not a folder (or .mp4)")
            target.mkdir(parents=True, exist_ok=True)

    def stamp(self, frames: Iterable[np.ndarray]) -> Iterator[TimedFrame]:
        """The frames with the timestamps the client would give them, each kept until answered."""
        for index, frame in enumerate(frames):
            timestamp = round(index * self.timescale / self.nominal_fps)
            self._sent[timestamp] = frame
            yield TimedFrame(timestamp, frame)

    def write(self, result: FrameResult) -> None:
        frame = self._sent.pop(result.timestamp, None)
        if frame is None:  # not a frame of ours (the client records the violation)
            return
        # Drawn on the frame as it was read: boxes are fractions of the picture, and
        # the stretch the client applies before sending keeps them where they are.
        picture = annotate.draw(frame, result.inferences, result.sequence, result.timestamp)
        if self._video is not None:
            self._video.add(picture, result.timestamp)
        else:
            path = self.target / f"{result.sequence:06d}.jpg"
            # Full-resolution colour (4:4:4): thin coloured lines stay their colour.
            Image.fromarray(picture).save(path, quality=JPEG_QUALITY, subsampling=0)
        self.written += 1

    def close(self) -> None:
        if self._video is not None:
            self._video.close()
            self._video = None

    def describe(self) -> str:
        return f"{self.written} annotated frame(s) written to {self.target}"


class _Mp4:
    """Opened with the first frame: no answered frame, no file."""

    def __init__(self, path: Path, timescale: int) -> None:
        import av  # the optional "video" extra

        self._av: Any = av
        self.path = path
        self.container: Any = None
        self.timescale = timescale
        self.stream: Any = None
        self.last_pts = -1

    def _open_stream(self, width: int, height: int) -> None:
        self.container = self._av.open(str(self.path), mode="w")
        codec = "libx264" if "libx264" in self._av.codecs_available else "mpeg4"
        self.stream = self.container.add_stream(codec, rate=30)
        self.stream.pix_fmt = "yuv420p"  # what every player plays
        if codec == "libx264":
            self.stream.options = {"crf": "18"}  # lines and text stay sharp
        self.stream.width, self.stream.height = width, height
        self.stream.time_base = Fraction(1, self.timescale)

    def add(self, rgb: np.ndarray, timestamp: int) -> None:
        # yuv420p wants even sizes: drop a last odd row or column.
        height, width = rgb.shape[0] & ~1, rgb.shape[1] & ~1
        if self.stream is None:
            self._open_stream(width, height)
        elif (width, height) != (self.stream.width, self.stream.height):
            rgb = np.asarray(Image.fromarray(rgb).resize((self.stream.width, self.stream.height)))
            height, width = rgb.shape[:2]
        frame = self._av.VideoFrame.from_ndarray(
            np.ascontiguousarray(rgb[:height, :width]), format="rgb24"
        )
        # Answers come in sending order; a timestamp that does not grow still gets a slot.
        self.last_pts = max(timestamp, self.last_pts + 1)
        frame.pts = self.last_pts
        frame.time_base = Fraction(1, self.timescale)
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        if self.stream is not None:
            for packet in self.stream.encode():
                self.container.mux(packet)
            self.container.close()
