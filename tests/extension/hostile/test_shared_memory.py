"""Attack: hand the server a shared-memory "file" that blocks, lies, or shrinks.

The handle is opened non-blocking and without following links, and must be a
regular file before anything is read; mappings are capped (maxSharedMemoryMiB)
and a mapping the kernel refuses is RESOURCE_EXHAUSTED; a file that shrinks
under a stream ends that stream with a clear status, in both processing modes.
"""

from __future__ import annotations

import os
import queue
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from lva_extension.proto import extension_pb2_grpc

from tests.support.hostility import MODES, normal_stream_served, shm_name, target
from tests.support.streams import Message, descriptor, raw_call, reference, sample

FRAME = 64 * 48 * 3
SHM = Path("/dev/shm")
TIB = 1 << 40


@pytest.fixture(scope="module", params=MODES, ids=list(MODES))
def victim(request):
    with target(*MODES[request.param]) as running:
        yield running


@pytest.fixture
def shm_file() -> Iterator[Path]:
    path = SHM / shm_name()
    path.write_bytes(bytes(4 * FRAME))
    yield path
    path.unlink(missing_ok=True)


def test_a_fifo_handle_is_refused_and_blocks_no_one(victim):
    path = SHM / shm_name()
    os.mkfifo(path)
    try:
        outcomes = []
        threads = [
            threading.Thread(
                target=lambda: outcomes.append(
                    raw_call(victim.address, [descriptor(shm=(path.name, FRAME))], timeout=20)
                )
            )
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        assert normal_stream_served(victim.address, shared_memory=True)  # meanwhile
        for thread in threads:
            thread.join(timeout=30)
        victim.assert_unharmed(shared_memory=True)
    finally:
        path.unlink()
    assert [(o.code, "not a regular file" in o.details) for o in outcomes] == [
        (grpc.StatusCode.INVALID_ARGUMENT, True)
    ] * 4


def test_a_device_is_not_a_handle(victim):
    # A device node in /dev/shm (made by a privileged neighbour) is never mapped.
    path = SHM / shm_name()
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero
    except PermissionError:
        pytest.skip("creating a device node needs root")
    try:
        outcome = raw_call(victim.address, [descriptor(shm=(path.name, FRAME))])
    finally:
        path.unlink()
    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a regular file" in outcome.details
    victim.assert_unharmed(shared_memory=True)


def test_a_huge_sparse_file_is_refused_by_the_cap(victim):
    path = SHM / shm_name()
    with open(path, "wb") as sparse:
        sparse.truncate(128 * TIB)
    try:
        outcome = raw_call(victim.address, [descriptor(shm=(path.name, 128 * TIB))])
    finally:
        path.unlink()
    assert outcome.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "maxSharedMemoryMiB" in outcome.details
    victim.assert_unharmed(shared_memory=True)


def test_a_mapping_the_kernel_refuses_is_resource_exhausted():
    path = SHM / shm_name()
    with open(path, "wb") as sparse:
        sparse.truncate(128 * TIB)
    try:
        with target("--max-shared-memory-mib", str(1 << 30)) as victim:
            outcome = raw_call(victim.address, [descriptor(shm=(path.name, 128 * TIB))])
            assert outcome.code == grpc.StatusCode.RESOURCE_EXHAUSTED, outcome.details
            assert "cannot map" in outcome.details
            victim.assert_unharmed(shared_memory=True)
    finally:
        path.unlink()


class Interactive:
    """A call whose next message is sent when the test says so."""

    def __init__(self, address: str) -> None:
        self._outbox: queue.Queue[Message | None] = queue.Queue()
        self._channel = grpc.insecure_channel(address)
        stub = extension_pb2_grpc.MediaGraphExtensionStub(self._channel)
        self._call = stub.ProcessMediaStream(iter(self._outbox.get, None), timeout=30)

    def send(self, message: Message) -> None:
        self._outbox.put(message)

    def receive(self) -> Message:
        return next(self._call)

    def status(self) -> tuple[grpc.StatusCode, str]:
        try:
            for _ in self._call:
                pass
        except grpc.RpcError as error:
            return error.code(), error.details() or ""
        finally:
            self._outbox.put(None)
            self._channel.close()
        return grpc.StatusCode.OK, ""


@pytest.mark.parametrize("to", [0, FRAME + 100])
def test_a_file_that_shrinks_under_a_stream_ends_that_stream_only(victim, shm_file, to):
    call = Interactive(victim.address)
    call.send(descriptor(shm=(shm_file.name, 4 * FRAME)))
    assert call.receive().ack_sequence_number == 1
    call.send(reference(2, 2 * FRAME, FRAME))
    assert call.receive().ack_sequence_number == 2
    os.truncate(shm_file, to)
    call.send(reference(3, 2 * FRAME, FRAME))
    code, details = call.status()
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert f"shrank to {to} bytes" in details
    victim.assert_unharmed(shared_memory=True)


def test_a_file_that_shrinks_while_its_frame_is_processed_cannot_crash_a_copying_server(
    shm_file,
):
    # The processor itself shrinks the file before it reads the frame: the race
    # that the per-sample check cannot close. With sharedMemoryCopy the frame is
    # a copy, made before, so the server lives (and the next frame is refused).
    configuration = (
        f'{{"processor": "tests.support.hostile_plugins:ShrinksItsFile", "path": "{shm_file}"}}'
    )
    with target("--shared-memory-copy", "true") as victim:
        outcome = raw_call(
            victim.address,
            [
                descriptor(shm=(shm_file.name, 4 * FRAME), configuration=configuration),
                reference(2, 2 * FRAME, FRAME),
                reference(3, 2 * FRAME, FRAME),
            ],
        )
        assert [m.ack_sequence_number for m in outcome.responses] == [1, 2]
        assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "shrank to 0 bytes" in outcome.details
        victim.assert_unharmed(shared_memory=True)


@pytest.mark.parametrize("extra", [1, 4096])
def test_a_reference_longer_than_its_frame_is_served_with_one_warning(victim, shm_file, extra):
    # A client in the field declares each slot one byte longer than its frame.
    messages = [descriptor(shm=(shm_file.name, 4 * FRAME))]
    messages += [reference(n, 0, FRAME + extra) for n in range(2, 6)]
    outcome = raw_call(victim.address, messages)
    assert outcome.code == grpc.StatusCode.OK, outcome.details
    assert len(outcome.responses) == 5
    victim.assert_unharmed(shared_memory=True)
    assert victim.log.count(f"{FRAME + extra}-byte samples for {FRAME}-byte frames") == 1


def test_an_embedded_sample_longer_than_its_frame_is_served(victim):
    messages = [descriptor()] + [sample(n, bytes(FRAME + 3)) for n in range(2, 5)]
    outcome = raw_call(victim.address, messages)
    assert outcome.code == grpc.StatusCode.OK, outcome.details
    assert len(outcome.responses) == 4
    victim.assert_unharmed()
    assert victim.log.count(f"{FRAME + 3}-byte samples for {FRAME}-byte frames") == 1


def test_a_reference_shorter_than_its_frame_is_still_refused(victim, shm_file):
    messages = [descriptor(shm=(shm_file.name, 4 * FRAME)), reference(2, 0, FRAME - 1)]
    outcome = raw_call(victim.address, messages)
    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT
    assert f"needs {FRAME} bytes, got {FRAME - 1}" in outcome.details
