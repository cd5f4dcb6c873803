"""The motion processor: boxes that follow a moving square, nothing for a still scene."""

from __future__ import annotations

import json

import grpc
import numpy as np
import pytest
from lva_extension.client import ClientOptions, StreamFormat
from lva_extension.processors import ProcessorSpec, create_processor
from lva_extension.processors.base import Frame
from lva_extension.processors.motion import MotionDetector, label_cells, regions

from tests.support.streams import descriptor, raw_call, run_client

WIDTH, HEIGHT = 320, 240  # downscaled by 2 to the default 160 pixels
SQUARE = 40
STEP = (10, 6)  # pixels per frame


def background(seed: int = 5) -> np.ndarray:
    """A textured scene: 16 x 16 blocks of random mid-grey colours."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(60, 140, size=(HEIGHT // 16, WIDTH // 16, 3), dtype=np.uint8)
    return blocks.repeat(16, axis=0).repeat(16, axis=1)


def square_at(index: int) -> tuple[int, int]:
    return 10 + STEP[0] * index, 20 + STEP[1] * index


def moving_square(count: int, colour=(240, 220, 30), scene: np.ndarray | None = None):
    scene = background() if scene is None else scene
    for index in range(count):
        frame = scene.copy()
        x, y = square_at(index)
        frame[y : y + SQUARE, x : x + SQUARE] = colour
        yield frame


def still_scene(count: int, noise: float = 3.0, seed: int = 9):
    """The same scene with a little sensor noise in every frame."""
    rng = np.random.default_rng(seed)
    scene = background(seed)
    for _ in range(count):
        noisy = scene + rng.normal(0, noise, size=scene.shape)
        yield np.clip(noisy, 0, 255).astype(np.uint8)


def boxes(inferences) -> list[tuple[float, float, float, float]]:
    assert all(i.type == i.MOTION and i.subtype == "motion" for i in inferences)
    return [(i.motion.box.l, i.motion.box.t, i.motion.box.w, i.motion.box.h) for i in inferences]


def square_box(index: int) -> tuple[float, float, float, float]:
    x, y = square_at(index)
    return x / WIDTH, y / HEIGHT, SQUARE / WIDTH, SQUARE / HEIGHT


def coverage(box, target) -> float:
    """How much of ``target`` lies inside ``box``."""
    left, top = max(box[0], target[0]), max(box[1], target[1])
    right = min(box[0] + box[2], target[0] + target[2])
    bottom = min(box[1] + box[3], target[1] + target[3])
    return max(right - left, 0) * max(bottom - top, 0) / (target[2] * target[3])


@pytest.mark.parametrize("batch_size", [1, 4])
@pytest.mark.parametrize("shared_memory", [False, True], ids=["embedded", "shm"])
def test_boxes_follow_a_moving_square(start_server, batch_size, shared_memory):
    running = start_server(batch_size=batch_size)
    count = 24
    options = ClientOptions(
        running.address,
        StreamFormat("raw", "rgb24", WIDTH, HEIGHT),
        shared_memory=shared_memory,
        extension_configuration="motion",
    )
    results, summary = run_client(options, moving_square(count))

    assert not summary.violations
    by_frame = [boxes(r.inferences) for r in sorted(results, key=lambda r: r.sequence)]
    assert by_frame[0] == []  # the first frame only starts the background
    # The square starts in the first frame, so its first place is part of the
    # background until it settles: until then a box covers the square and that place.
    for index in range(1, count):
        assert max(coverage(box, square_box(index)) for box in by_frame[index]) > 0.95
    # Once the place where the square started has settled into the background
    # (stillFrames = 15 frames after the square left it, in frame 4), the
    # square is the only motion, to the downscaled pixel.
    settled = -(-SQUARE // STEP[0]) + 15
    for index in range(settled, count):
        (box,) = by_frame[index]
        np.testing.assert_allclose(box, square_box(index), atol=2 / WIDTH + 1e-6)


def test_a_still_scene_has_no_motion_and_streams_do_not_share_state(server):
    options = ClientOptions(
        server.address,
        StreamFormat("raw", "bgr24", WIDTH, HEIGHT),
        extension_configuration="motion",
    )
    moving, _ = run_client(options, moving_square(6))
    assert any(r.inferences for r in moving)

    # A new stream of another scene: were the first stream's background kept,
    # its first frames would all be "motion".
    still, summary = run_client(options, still_scene(30))

    assert summary.frames_acknowledged == 30
    assert [r.inferences for r in still] == [[]] * 30


@pytest.mark.parametrize(
    ("sensitivity", "contrast", "detected"),
    [
        ("high", 18, True),
        ("medium", 18, False),
        ("medium", 30, True),
        ("low", 30, False),
        ("low", 60, True),
    ],
)
def test_sensitivity(sensitivity, contrast, detected):
    scene = np.full((HEIGHT, WIDTH, 3), 100, dtype=np.uint8)
    detector = MotionDetector(sensitivity=sensitivity)
    frames = moving_square(5, colour=(100 + contrast,) * 3, scene=scene)
    results = detector.process([Frame(f, i) for i, f in enumerate(frames)])
    assert bool(results[-1]) is detected


@pytest.mark.parametrize(("min_area", "detected"), [(0.001, True), (0.01, False)])
def test_min_area(min_area, detected):
    scene = np.full((HEIGHT, WIDTH, 3), 100, dtype=np.uint8)
    detector = MotionDetector(minArea=min_area)
    frames = [Frame(scene, 0)]
    for index in range(1, 3):  # a 12 x 12 square (0.19 % of the frame) moving right
        frame = scene.copy()
        frame[100:112, 100 + 12 * index : 112 + 12 * index] = 250
        frames.append(Frame(frame, index))
    results = detector.process(frames)
    assert bool(results[-1]) is detected
    if detected:
        np.testing.assert_allclose(
            boxes(results[-1]), [(124 / WIDTH, 100 / HEIGHT, 12 / WIDTH, 12 / HEIGHT)], atol=1e-6
        )


def test_two_moving_objects_are_two_regions():
    scene = np.full((HEIGHT, WIDTH, 3), 90, dtype=np.uint8)
    detector = MotionDetector()
    results = detector.process([Frame(scene, 0)])[0]
    for index in range(1, 3):  # two squares come in and move apart
        frame = scene.copy()
        frame[20:50, 20 + 8 * index : 50 + 8 * index] = 250
        frame[150:200, 200 - 8 * index : 240 - 8 * index] = 10
        results = detector.process([Frame(frame, index)])[0]
    found = sorted(boxes(results))
    assert len(found) == 2
    np.testing.assert_allclose(
        found[0], (36 / WIDTH, 20 / HEIGHT, 30 / WIDTH, 30 / HEIGHT), atol=1e-6
    )
    np.testing.assert_allclose(
        found[1], (184 / WIDTH, 150 / HEIGHT, 40 / WIDTH, 50 / HEIGHT), atol=1e-6
    )


def test_regions_and_cell_labels():
    mask = np.zeros((12, 16), dtype=bool)
    mask[1:3, 1:3] = True  # a blob...
    mask[4, 4] = True  # ...joined to it through neighbouring cells
    mask[9:11, 13:15] = True  # a separate blob
    assert sorted(regions(mask)) == [(1, 1, 5, 5, 5), (13, 9, 15, 11, 4)]
    snake = np.array([[1, 1, 1, 0], [0, 0, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]], dtype=bool)
    labels = label_cells(snake)
    assert len(np.unique(labels[snake])) == 1 and (labels[~snake] == -1).all()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sensitivity": "extreme"}, "sensitivity: expected one of low, medium, high"),
        ({"minArea": 2}, "minArea: expected a fraction"),
        ({"stillFrames": 0}, "stillFrames: expected an integer of at least 1"),
        ({"threshold": 3}, "unexpected keyword argument 'threshold'"),
    ],
)
def test_bad_options_end_the_stream_at_its_start(server, options, message):
    configuration = json.dumps({"processor": "motion", **options})
    outcome = raw_call(server.address, [descriptor(configuration=configuration)])
    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT
    assert message in outcome.details


def test_created_by_name_with_options():
    processor = create_processor(ProcessorSpec("motion", {"sensitivity": "high", "width": 80}))
    assert isinstance(processor, MotionDetector)
    assert not processor.thread_safe  # its batches run in order
