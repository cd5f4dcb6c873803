"""Hostile or broken clients get a clear status; the server keeps serving others."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from lva_extension.client import ClientOptions, StreamFormat
from lva_extension.client.clips import dark_light_frames

from tests.support.paths import DATA
from tests.support.streams import (
    Format,
    Message,
    descriptor,
    raw_call,
    reference,
    run_client,
    sample,
    tags,
)

FRAME = bytes(64 * 48 * 3)
INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture
def shm_file() -> Iterator[tuple[str, int]]:
    """A real 1 MiB file in /dev/shm, as a client would create it."""
    name = f"lva-extension-test-{uuid.uuid4().hex}"
    path = Path("/dev/shm") / name
    path.write_bytes(bytes(1 << 20))
    yield name, 1 << 20
    path.unlink()


def corrupt_jpeg() -> bytes:
    good = (DATA / "dark.jpg").read_bytes()
    return good[: len(good) // 2]


CASES = {
    "first message is a sample": (
        lambda shm: [sample(1, FRAME)],
        INVALID,
        "first message must carry a media_stream_descriptor",
    ),
    "empty first message": (lambda shm: [Message(sequence_number=1)], INVALID, "empty message"),
    "descriptor is not message 1": (
        lambda shm: [descriptor(sequence=5)],
        INVALID,
        "must be message 1, got 5",
    ),
    "raw with pixel format NONE": (
        lambda shm: [descriptor(pixel_format=Format.NONE)],
        INVALID,
        "got NONE",
    ),
    "unknown encoding": (lambda shm: [descriptor(encoding=9)], INVALID, "encoding"),
    "a million by a million": (
        lambda shm: [descriptor(width=1_000_000, height=1_000_000)],
        INVALID,
        "1000000x1000000",
    ),
    "raw without dimensions": (lambda shm: [descriptor(width=0)], INVALID, "width and height"),
    "stride shorter than a row": (lambda shm: [descriptor(stride=10)], INVALID, "at least 192"),
    "handle ../../etc/passwd": (
        lambda shm: [descriptor(shm=("../../etc/passwd", 100))],
        INVALID,
        "plain file name",
    ),
    "handle /etc/passwd": (
        lambda shm: [descriptor(shm=("/etc/passwd", 100))],
        INVALID,
        "plain file name",
    ),
    "handle ..": (lambda shm: [descriptor(shm=("..", 100))], INVALID, "plain file name"),
    "handle with NUL": (
        lambda shm: [descriptor(shm=("abc\0def", 100))],
        INVALID,
        "plain file name",
    ),
    "empty handle": (lambda shm: [descriptor(shm=("", 100))], INVALID, "plain file name"),
    "missing shm file": (
        lambda shm: [descriptor(shm=("lva-extension-no-such-file", 100))],
        grpc.StatusCode.NOT_FOUND,
        "does not exist",
    ),
    "declared length larger than the file": (
        lambda shm: [descriptor(shm=(shm[0], shm[1] + 1))],
        INVALID,
        f"declares {(1 << 20) + 1} bytes",
    ),
    "reference past the end": (
        lambda shm: [descriptor(shm=shm), reference(2, shm[1] - 100, len(FRAME))],
        INVALID,
        "inside the 1048576-byte shared memory buffer",
    ),
    "reference on an embedded stream": (
        lambda shm: [descriptor(), reference(2, 0, len(FRAME))],
        INVALID,
        "declared no shared memory",
    ),
    "sample of the wrong size": (
        lambda shm: [descriptor(), sample(2, FRAME[:-1])],
        INVALID,
        f"needs {len(FRAME)} bytes, got {len(FRAME) - 1}",
    ),
    "corrupt jpeg": (
        lambda shm: [descriptor(encoding=Format.JPG), sample(2, corrupt_jpeg())],
        INVALID,
        "not a decodable JPG",
    ),
    "png sent as jpg": (
        lambda shm: [descriptor(encoding=Format.JPG), sample(2, b"\x89PNG\r\n\x1a\n" + FRAME)],
        INVALID,
        "not a decodable JPG",
    ),
    "unknown processor": (
        lambda shm: [descriptor(configuration="yolo9000")],
        INVALID,
        "known processors: colorIntensity",
    ),
    "processor path that is not a processor": (
        lambda shm: [descriptor(configuration="tests.support.processors:NotAProcessor")],
        INVALID,
        "not a Processor subclass",
    ),
    "processor path that does not exist": (
        lambda shm: [descriptor(configuration="tests.no_such_module:Thing")],
        INVALID,
        "cannot be loaded",
    ),
    "bad processor options": (
        lambda shm: [descriptor(configuration='{"processor": "colorIntensity", "colour": 1}')],
        INVALID,
        "unexpected keyword argument 'colour'",
    ),
    "configuration that is broken JSON": (
        lambda shm: [descriptor(configuration='{"processor": ')],
        INVALID,
        "not valid JSON",
    ),
    "sequence number gap": (
        lambda shm: [descriptor(), sample(2, FRAME), sample(4, FRAME)],
        INVALID,
        "expected 3, got 4",
    ),
    "second descriptor": (
        lambda shm: [descriptor(), descriptor(sequence=2)],
        INVALID,
        "expected a media_sample",
    ),
}


def good_stream_works(address: str) -> bool:
    options = ClientOptions(address, StreamFormat(width=32, height=32))
    results, summary = run_client(options, dark_light_frames(32, 32, 4))
    return summary.violations == [] and tags(results) == ["dark"] * 4


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_hostile_input_gets_a_clear_status(server, shm_file, case):
    messages, code, message = CASES[case]

    outcome = raw_call(server.address, messages(shm_file))

    assert (outcome.code, message in outcome.details) == (code, True), outcome.details
    assert good_stream_works(server.address)


def test_other_streams_keep_working_while_hostile_calls_arrive(server, shm_file):
    done = threading.Event()
    outcome: dict[str, object] = {}

    def camera() -> None:
        options = ClientOptions(server.address, StreamFormat(width=32, height=32), fps=60)
        results, summary = run_client(options, dark_light_frames(32, 32, 60))
        outcome.update(results=results, summary=summary)
        done.set()

    thread = threading.Thread(target=camera)
    thread.start()
    codes = [raw_call(server.address, make(shm_file)).code for make, _, _ in CASES.values()]
    thread.join(timeout=60)

    assert done.is_set()
    assert grpc.StatusCode.OK not in codes
    assert outcome["summary"].violations == []
    assert len(outcome["results"]) == 60


def test_symlinks_in_dev_shm_are_refused(server, shm_file):
    link = f"lva-extension-test-link-{uuid.uuid4().hex}"
    os.symlink("/etc/passwd", f"/dev/shm/{link}")
    try:
        outcome = raw_call(server.address, [descriptor(shm=(link, 100))])
    finally:
        os.unlink(f"/dev/shm/{link}")
    assert outcome.code == INVALID
    assert "symbolic link" in outcome.details


def test_message_larger_than_the_limit_is_refused(start_server):
    small = start_server(max_message_size_mib=1)
    frame = bytes(1024 * 1024 * 3)
    outcome = raw_call(small.address, [descriptor(width=1024, height=1024), sample(2, frame)])
    assert outcome.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert good_stream_works(small.address)
