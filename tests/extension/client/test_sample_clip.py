"""``sample-clip --scene moving``: boxes where the clip says they are, a known GOP, no B-frames."""

from __future__ import annotations

from pathlib import Path

import av
from lva_extension import Frame
from lva_extension.client.clips import moving_boxes, moving_frames, write_clip
from lva_extension.processors.motion import MotionDetector

from tests.support.processes import run_command


def test_the_moving_scene_puts_its_boxes_where_it_says(tmp_path: Path):
    frames = list(moving_frames(160, 120, 40))
    boxes = moving_boxes(40)
    for index, frame in enumerate(frames):
        lit = frame.max(axis=2) > 150
        expected = [box for b in boxes if (box := b.box(index)) is not None]
        assert lit.any() == bool(expected), index
        for left, top, width, height in expected:
            x, y = round((left + width / 2) * 160), round((top + height / 2) * 120)
            assert lit[y, x], (index, left, top)


def test_motion_is_found_only_while_a_box_moves(tmp_path: Path):
    clip = tmp_path / "moving.mp4"
    write_clip(clip, moving_frames(160, 120, 40), fps=10, gop=5)
    detector = MotionDetector()
    moving = set()
    with av.open(str(clip)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if detector.process([Frame(frame.to_ndarray(format="rgb24"), index)])[0]:
                moving.add(index)
    spans = [range(b.start, b.stop + 1) for b in moving_boxes(40)]  # + the frame it vanishes
    assert moving and all(any(i in span for span in spans) for i in moving)
    assert all(any(i in moving for i in span) for span in spans)  # both bursts are seen


def test_sample_clip_writes_h264_with_a_keyframe_every_gop_frames(tmp_path: Path):
    clip = tmp_path / "clip.mkv"
    result = run_command(
        "sample-clip", str(clip), "--scene", "moving", "--frames", "24", "--fps", "12",
        "--gop", "4", "--width", "96", "--height", "64",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "a keyframe every 4 frames" in result.stdout
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        packets = [p for p in container.demux(stream) if p.size]
    assert [i for i, p in enumerate(packets) if p.is_keyframe] == [0, 4, 8, 12, 16, 20]
    # No B-frames: decode order is presentation order.
    times = [p.pts or 0 for p in packets]
    assert times == sorted(times)
    refused = run_command("sample-clip", str(clip), "--frames", "0")
    assert refused.returncode != 0 and "expected at least 1 frame" in refused.stderr
