"""Clips with motion at known times, and what PyAV reads back from recordings."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from lva_extension.client.clips import moving_boxes, moving_frames, write_clip

# The clip the sample topologies play: 4 s at 10 fps, a keyframe every half second.
FPS, FRAMES, GOP = 10, 40, 5
WIDTH, HEIGHT = 320, 240
GOP_SECONDS = Fraction(GOP, FPS)
LIT = 150  # grey level: the boxes are brighter, the background darker


def motion_spans(frames: int = FRAMES, fps: int = FPS) -> list[tuple[Fraction, Fraction]]:
    """Media times [start, stop) in which a box of the moving clip moves."""
    return [(Fraction(b.start, fps), Fraction(b.stop, fps)) for b in moving_boxes(frames)]


def make_moving_clip(
    path: Path,
    frames: int = FRAMES,
    fps: int = FPS,
    gop: int = GOP,
    size: tuple[int, int] = (WIDTH, HEIGHT),
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_clip(path, moving_frames(size[0], size[1], frames), fps=fps, gop=gop)
    return path


@dataclass(frozen=True)
class Recorded:
    path: Path
    codec: str
    frames: int
    seconds: Fraction  # from the first frame's start to the last frame's end
    lit_frames: int  # frames in which a light box of the moving clip shows


def read_recording(path: Path) -> Recorded:
    """What a player sees in an MP4 the simulator wrote (decoding every frame)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times, lit = [], 0
        for frame in container.decode(stream):
            if frame.pts is not None:
                times.append(frame.pts * Fraction(stream.time_base or Fraction(1, 90_000)))
                lit += int(frame.to_ndarray(format="gray").max() > LIT)
        codec = stream.codec_context.name
        rate = stream.average_rate or Fraction(FPS)
    assert times, f"{path}: no frames"
    return Recorded(path, codec, len(times), max(times) - min(times) + 1 / Fraction(rate), lit)
