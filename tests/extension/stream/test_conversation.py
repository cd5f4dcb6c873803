"""The conversation of CONTRACT.md against a real server, over both transports."""

from __future__ import annotations

import asyncio
import time

import grpc
import numpy as np
import pytest
from lva_extension.client import ClientOptions, ExtensionClient, StreamFormat, TimedFrame
from lva_extension.client.clips import dark_light_frames, is_dark_scene

from tests.support.streams import descriptor, raw_call, run_client, sample, tags

PIXEL_FORMATS = ["rgb24", "bgr24", "rgba", "bgra", "argb", "abgr"]


def expected_tags(count: int, scene_frames: int) -> list[str]:
    return ["dark" if is_dark_scene(i, scene_frames) else "light" for i in range(count)]


@pytest.mark.parametrize("shm", [False, True], ids=["embedded", "shm"])
@pytest.mark.parametrize(
    ("encoding", "pixel_format", "padding"),
    [("raw", p, 0) for p in PIXEL_FORMATS]
    + [("raw", "rgb24", 20), ("raw", "bgra", 12)]
    + [("jpg", "rgb24", 0), ("png", "rgb24", 0), ("bmp", "rgb24", 0)],
)
def test_every_frame_is_classified_and_acknowledged_once(
    server, shm_dir_clean, shm, encoding, pixel_format, padding
):
    fmt = StreamFormat(encoding, pixel_format, 96, 64, padding)
    options = ClientOptions(server.address, fmt, shared_memory=shm, window=4)
    frames = list(dark_light_frames(96, 64, 12, scene_frames=2))

    results, summary = run_client(options, frames)

    assert summary.violations == []
    assert summary.frames_acknowledged == summary.frames_sent == 12
    by_sequence = sorted(results, key=lambda r: r.sequence)
    assert [r.sequence for r in by_sequence] == list(range(2, 14))
    assert tags(by_sequence) == expected_tags(12, 2)
    assert [r.timestamp for r in by_sequence] == [i * 3000 for i in range(12)]
    for result in results:
        (inference,) = result.inferences
        assert inference.subtype == "colorIntensity"
        assert inference.classification.tag.confidence == 1.0


@pytest.mark.parametrize("shm", [False, True], ids=["embedded", "shm"])
@pytest.mark.parametrize("pixel_format", PIXEL_FORMATS)
def test_channels_and_stride_padding_are_decoded_exactly(server, shm, pixel_format):
    # A frame with different R, G, B levels proves the channel order, and the
    # row padding (filled with 255 by nobody: zeros) must not leak into means.
    frame = np.empty((30, 50, 3), dtype=np.uint8)
    frame[:] = (10, 120, 230)
    options = ClientOptions(
        server.address,
        StreamFormat("raw", pixel_format, 50, 30, stride_padding=7),
        shared_memory=shm,
        extension_configuration="tests.support.processors:ChannelMeans",
    )
    results, summary = run_client(options, [frame, frame])
    assert summary.violations == []
    assert tags(results) == ["10,120,230,50x30"] * 2


def test_raw_sequence_numbers_acks_and_timestamps(server):
    frame = bytes(64 * 48 * 3)
    messages = [descriptor(), *(sample(s, frame, timestamp=s * 1000 + 7) for s in range(2, 22))]

    outcome = raw_call(server.address, messages)

    assert outcome.code == grpc.StatusCode.OK
    first, *acks = outcome.responses
    assert first.sequence_number == 1 and first.ack_sequence_number == 1
    assert first.media_stream_descriptor.extension_identifier
    assert [m.sequence_number for m in outcome.responses] == list(range(1, 22))
    assert sorted(m.ack_sequence_number for m in acks) == list(range(2, 22))
    for ack in acks:
        assert ack.media_sample.timestamp == ack.ack_sequence_number * 1000 + 7
        assert ack.media_sample.inferences[0].classification.tag.value == "dark"


def test_sample_without_content_is_acknowledged_without_inferences(server):
    frame = bytes(64 * 48 * 3)
    outcome = raw_call(server.address, [descriptor(), sample(2), sample(3, frame)])
    assert outcome.code == grpc.StatusCode.OK
    acks = {m.ack_sequence_number: m for m in outcome.responses[1:]}
    assert set(acks) == {2, 3}
    assert list(acks[2].media_sample.inferences) == []
    assert len(acks[3].media_sample.inferences) == 1


@pytest.mark.parametrize("shm", [False, True], ids=["embedded", "shm"])
def test_full_hd_bgr24_frames(server, shm):
    frame = np.full((1080, 1920, 3), 200, dtype=np.uint8)
    options = ClientOptions(
        server.address, StreamFormat("raw", "bgr24", 1920, 1080), shared_memory=shm, window=2
    )
    results, summary = run_client(options, [frame] * 3)
    assert summary.violations == []
    assert tags(results) == ["light"] * 3


def test_sixteen_cameras_at_30_fps_are_served_at_the_same_time(server):
    streams, frames_each = 16, 30

    async def camera(index: int) -> tuple[float, float, list[str]]:
        options = ClientOptions(
            server.address,
            StreamFormat(width=160, height=120),
            shared_memory=index % 2 == 0,
            fps=30,
            graph_instance=f"camera-{index}",
        )
        client = ExtensionClient(options)
        frames = dark_light_frames(160, 120, frames_each, scene_frames=5)
        first = last = 0.0
        got = []
        async for result in client.stream(frames):
            last = time.monotonic()
            first = first or last
            got.append(result)
        assert client.summary.violations == []
        got.sort(key=lambda r: r.sequence)
        return first, last, tags(got)

    async def all_cameras() -> list[tuple[float, float, list[str]]]:
        return await asyncio.gather(*(camera(i) for i in range(streams)))

    outcomes = asyncio.run(all_cameras())

    for _first, _last, got in outcomes:
        assert got == expected_tags(frames_each, 5)
    # Every camera had its first answer before any camera had its last one.
    assert max(first for first, _, _ in outcomes) < min(last for _, last, _ in outcomes)


def test_a_failing_processor_still_acknowledges_every_frame(server):
    options = ClientOptions(
        server.address,
        StreamFormat(width=32, height=32),
        extension_configuration="tests.support.processors:FailEveryThird",
        window=1,
    )
    results, summary = run_client(options, dark_light_frames(32, 32, 9))
    assert summary.violations == []
    assert summary.frames_acknowledged == 9
    results.sort(key=lambda r: r.sequence)
    assert [len(r.inferences) for r in results] == [1, 1, 0] * 3


def test_a_processor_returning_the_wrong_number_of_results_still_acks(server):
    options = ClientOptions(
        server.address,
        StreamFormat(width=32, height=32),
        extension_configuration="tests.support.processors:WrongCount",
    )
    results, summary = run_client(options, dark_light_frames(32, 32, 5))
    assert summary.violations == []
    assert [r.inferences for r in results] == [[]] * 5


def test_frames_may_carry_their_own_timestamps(server):
    options = ClientOptions(server.address, StreamFormat(width=32, height=32))
    frames = [
        TimedFrame(ts, f)
        for ts, f in zip((7, 1000, 123456789), dark_light_frames(32, 32, 3), strict=True)
    ]
    results, summary = run_client(options, frames)
    assert summary.violations == []
    assert sorted(r.timestamp for r in results) == [7, 1000, 123456789]
