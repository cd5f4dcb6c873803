"""``lva-extension send --annotate``: the answered frames, with boxes where the model put them.

A clip of two coloured squares goes to a real server whose processor finds
them; the annotated output (an MP4, or a folder of JPEGs) is read back and
its pixels checked: each square's outline has the colour of its tag, the
squares' places in the clip match the boxes, and background stays background.
"""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from lva_extension.client.annotate import STYLE, box_pixels
from lva_extension.client.clips import write_clip
from PIL import Image

from tests.support.processes import run_command
from tests.support.squares import BACKGROUND, BLUE, RED, known_boxes, square_frames

WIDTH, HEIGHT, FRAMES = 480, 360, 20
TICKS_PER_FRAME = 90_000 // 30  # the client's timestamps: 30 per second
PROCESSOR = "tests.support.squares:FindSquares"


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("annotate") / "squares.mp4"
    write_clip(path, square_frames(WIDTH, HEIGHT, FRAMES), fps=15)
    return path


def send(server, clip: Path, out: Path) -> dict[int, dict[str, dict[str, float]]]:
    """Run the command; the boxes it printed, by frame index and tag."""
    result = run_command(
        "send",
        "--address",
        server.address,
        "--video",
        str(clip),
        "--width",
        "320",
        "--height",
        "240",
        "--config",
        PROCESSOR,
        "--annotate",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert f"{FRAMES} annotated frame(s) written to {out}" in result.stderr
    boxes: dict[int, dict[str, dict[str, float]]] = {}
    for line in result.stdout.splitlines():
        message = json.loads(line)
        found = boxes.setdefault(message["timestamp"] // TICKS_PER_FRAME, {})
        for inference in message["inferences"]:
            if inference["type"] == "entity":
                entity = inference["entity"]
                found[entity["tag"]["value"]] = entity["box"]
    # The model found the squares where the clip has them (to a pixel of the
    # 320x240 frames it got).
    assert sorted(boxes) == list(range(FRAMES))
    for index, found in boxes.items():
        for tag, known in known_boxes(index, WIDTH, HEIGHT).items():
            inferred = [found[tag][k] for k in "ltwh"]
            assert np.allclose(inferred, known, atol=1.5 / 240), (index, tag, inferred, known)
    return boxes


def distance(pixels: np.ndarray, colour) -> float:
    return float(np.abs(pixels.reshape(-1, 3).astype(float).mean(axis=0) - colour).max())


def check_outlines(picture: np.ndarray, boxes: dict[str, dict[str, float]], index: int) -> None:
    """Each box is drawn where its inference says, in its tag's colour."""
    height, width = picture.shape[:2]
    line = STYLE.line_px(height)
    for tag, box in boxes.items():
        x0, y0, x1, y1 = box_pixels(box, width, height)
        # There, the clip has the square (to the pixels a 320x240 inference can tell).
        known = known_boxes(index, width, height)[tag]
        corners = (known[0] * width, known[1] * height, (known[0] + known[2]) * width - 1)
        assert np.allclose((x0, y0, x1), corners, atol=2.5), (index, tag, (x0, y0, x1), corners)
        colour = STYLE.tag_colour(tag)
        middle = (y0 + y1) // 2
        # The middle of the outline, which lies inside the box: whole colour there
        # even after 4:2:0 video, which blurs colour over pairs of pixels.
        left_edge = picture[middle - 5 : middle + 5, x0 + line // 2]
        bottom_edge = picture[y1 - line // 2, x0 + line + 2 : x1 - line - 2]
        assert distance(left_edge, colour) < 30, (index, tag, left_edge.mean(axis=0))
        assert distance(bottom_edge, colour) < 30, (index, tag, bottom_edge.mean(axis=0))
        inside = picture[middle - 3 : middle + 3, x0 + 2 * line + 2 : x0 + 2 * line + 8]
        assert distance(inside, RED if tag == "red" else BLUE) < 30, (index, tag)
        outside = picture[middle - 3 : middle + 3, x0 - 6 : x0 - 3]  # left of the outline
        assert distance(outside, colour) > 60, (index, tag, outside.mean(axis=(0, 1)))
    corner = picture[height // 2 - 5 : height // 2 + 5, 5:15]  # no square ever goes there
    assert distance(corner, (BACKGROUND,) * 3) < 20


def test_mp4_has_the_boxes_where_the_model_found_the_squares(server, clip, tmp_path):
    out = tmp_path / "annotated.mp4"
    boxes = send(server, clip, out)

    with av.open(str(out)) as container:
        pictures = [
            (round(frame.pts * frame.time_base * 30), frame.to_ndarray(format="rgb24"))
            for frame in container.decode(video=0)
        ]
    assert [index for index, _ in pictures] == list(range(FRAMES))
    assert pictures[0][1].shape == (HEIGHT, WIDTH, 3)  # drawn on the frames as read
    for index, picture in pictures[::3]:
        check_outlines(picture, boxes[index], index)
    # The boxes moved with the squares: where the red outline was, it is no more.
    x0, y0, _, y1 = box_pixels(boxes[0]["red"], WIDTH, HEIGHT)
    later = pictures[-1][1][(y0 + y1) // 2 - 5 : (y0 + y1) // 2 + 5, x0 + 1]
    assert distance(later, STYLE.tag_colour("red")) > 60


def test_folder_gets_one_jpeg_per_answered_frame(server, clip, tmp_path):
    out = tmp_path / "frames"
    boxes = send(server, clip, out)

    names = sorted(p.name for p in out.iterdir())
    # Named by the samples' sequence numbers: the descriptor is message 1.
    assert names == [f"{n:06d}.jpg" for n in range(2, FRAMES + 2)]
    for index in (0, 9, FRAMES - 1):
        picture = np.asarray(Image.open(out / names[index]).convert("RGB"))
        check_outlines(picture, boxes[index], index)


def test_annotate_into_a_missing_folder_is_refused(server, clip, tmp_path):
    result = run_command(
        "send", "--address", server.address, "--annotate", str(tmp_path / "no" / "out.mp4")
    )
    assert result.returncode == 2
    assert "--annotate: no such folder" in result.stderr
