"""Streams that break at any point leave nothing behind; the server goes on serving."""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from pathlib import Path

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lva_extension.client import ClientOptions, StreamFormat
from lva_extension.client.clips import dark_light_frames
from lva_extension.proto import extension_pb2_grpc

from tests.support.processes import mapped_paths, server_process
from tests.support.streams import (
    Format,
    Message,
    descriptor,
    raw_call,
    reference,
    run_client,
    sample,
)
from tests.support.waiting import wait_for

FRAME = bytes(64 * 48 * 3)


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def break_a_stream(stub, shm: tuple[str, int], rng: random.Random) -> None:
    """Open a stream and abandon it at a random point."""
    call = stub.ProcessMediaStream()
    point = rng.choice(["before descriptor", "after descriptor", "after reply", "frames in flight"])
    use_shm = rng.random() < 0.5
    try:
        if point != "before descriptor":
            await call.write(descriptor(shm=shm if use_shm else None))
        if point in ("after reply", "frames in flight"):
            await call.read()
        if point == "frames in flight":
            for s in range(2, 2 + rng.randint(1, 6)):
                await call.write(reference(s, 0, len(FRAME)) if use_shm else sample(s, FRAME))
            await asyncio.sleep(rng.random() * 0.005)
    except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
        pass
    call.cancel()


def descendants(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid] + [d for child in children for d in descendants(int(child))]


def mapped_anywhere(pid: int, name: str) -> bool:
    """Whether the server or any process it started (processing processes) maps ``name``."""
    return any(name in mapped_paths(p) for p in descendants(pid))


@pytest.mark.parametrize(
    "server_args", [(), ("--processing-processes", "2")], ids=["in-process", "processing-processes"]
)
def test_a_thousand_broken_streams_leave_no_descriptors_or_mappings(shm_dir_clean, server_args):
    name = f"lva-extension-test-{uuid.uuid4().hex}"
    path = Path("/dev/shm") / name
    path.write_bytes(bytes(1 << 20))
    try:
        with server_process(*server_args) as running:
            good = ClientOptions(
                running.address, StreamFormat(width=32, height=32), shared_memory=True
            )

            async def storm(streams: int) -> None:
                rng = random.Random(streams)
                limit = asyncio.Semaphore(32)
                async with grpc.aio.insecure_channel(running.address) as channel:
                    stub = extension_pb2_grpc.MediaGraphExtensionStub(channel)

                    async def one() -> None:
                        async with limit:
                            await break_a_stream(stub, (name, 1 << 20), rng)

                    await asyncio.gather(*(one() for _ in range(streams)))

            # Warm up, so that what gRPC and the thread pool create once is counted.
            run_client(good, dark_light_frames(32, 32, 4))
            asyncio.run(storm(50))
            wait_for(
                lambda: not mapped_anywhere(running.pid, name),
                timeout=15,
                what="the warm-up streams to let go of the file",
            )
            baseline = open_descriptors(running.pid)

            asyncio.run(storm(1000))
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and (
                mapped_anywhere(running.pid, name) or open_descriptors(running.pid) > baseline
            ):
                time.sleep(0.1)

            assert not mapped_anywhere(running.pid, name)
            assert open_descriptors(running.pid) <= baseline
            results, summary = run_client(good, dark_light_frames(32, 32, 10))
            assert summary.violations == []
            assert len(results) == 10
    finally:
        path.unlink()


# --- fuzzing: any message sequence gets a proper status, never UNKNOWN or a hang ----

HANDLES = st.sampled_from(
    ["", "..", "../x", "/etc/passwd", "a\0b", "lva-extension-fuzz-missing", "FUZZ"]
)
formats = st.builds(
    descriptor,
    width=st.integers(0, 5000),
    height=st.integers(0, 5000),
    encoding=st.sampled_from([0, 1, 2, 3, 3, 3, 17]),
    pixel_format=st.sampled_from([*Format.PixelFormat.values(), 7]),
    stride=st.integers(0, 20000),
    shm=st.none() | st.tuples(HANDLES, st.integers(0, 1 << 21)),
    configuration=st.sampled_from(
        ["", "colorIntensity", "nope", "{", '{"processor": 1}', "os:system"]
    ),
    sequence=st.integers(0, 3),
)


def _sample(sequence: int, data: bytes) -> Message:
    return sample(sequence, data)


samples = st.one_of(
    st.builds(_sample, st.integers(0, 40), st.binary(max_size=64) | st.just(FRAME)),
    st.builds(reference, st.integers(0, 40), st.integers(0, 1 << 21), st.integers(0, 1 << 20)),
    st.builds(Message, sequence_number=st.integers(0, 40)),
)


@pytest.fixture(scope="module")
def fuzz_shm():
    path = Path("/dev/shm") / f"lva-extension-fuzz-{uuid.uuid4().hex}"
    path.write_bytes(bytes(1 << 20))
    yield path.name
    path.unlink()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=formats, rest=st.lists(samples | formats, max_size=8))
def test_fuzzed_message_sequences_never_crash_or_hang(server, fuzz_shm, first, rest):
    props = first.media_stream_descriptor.shared_memory_buffer_transfer_properties
    if props.handle_name == "FUZZ":
        props.handle_name = fuzz_shm
    outcome = raw_call(server.address, [first, *rest], timeout=10)
    assert outcome.code not in (
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.INTERNAL,
    ), outcome.details
    if outcome.code != grpc.StatusCode.OK:
        assert outcome.details


def test_server_still_serves_after_fuzzing(server):
    results, summary = run_client(
        ClientOptions(server.address, StreamFormat(width=32, height=32)),
        dark_light_frames(32, 32, 3),
    )
    assert summary.violations == []
    assert len(results) == 3
