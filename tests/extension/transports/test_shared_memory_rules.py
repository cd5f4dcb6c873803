"""The shared-memory transport's rules, each with the words a client reads: names,
sizes, files that are not what they claim, files shrunk under the stream, copy mode."""

from __future__ import annotations

import logging
import os

import pytest
from lva_extension.errors import InvalidArgument, NotFound, ResourceExhausted
from lva_extension.proto import extension_pb2, media_pb2
from lva_extension.transports import SharedMemoryTransport, open_transport
from lva_extension.transports.shared_memory import SharedMemoryLimits

from tests.support.streams import descriptor, referenced

MIB = 1 << 20
COPY = SharedMemoryLimits(copy=True)


def refusal(error: type[Exception], *args, **kwargs) -> str:
    with pytest.raises(error) as raised:
        SharedMemoryTransport(*args, **kwargs)
    return raised.value.message  # type: ignore[attr-defined]


def test_handle_names_must_be_plain_file_names(tmp_path):
    rule = (
        "handle_name: expected a plain file name in /dev/shm (no '/', '..' or NUL,"
        " at most 255 bytes), got "
    )
    assert refusal(InvalidArgument, ".", 10, shm_dir=tmp_path) == rule + "'.'"
    for name in ("x" * 256, "é" * 128):  # too long, in bytes; quoted cut short
        assert refusal(InvalidArgument, name, 10, shm_dir=tmp_path).startswith(
            rule + "'" + name[:5]
        )
    # 255 bytes is a name: this one is just not there.
    assert "does not exist" in refusal(NotFound, "x" * 255, 10, shm_dir=tmp_path)


def test_sizes_the_server_will_not_map(buffer_file):
    folder = buffer_file.parent
    assert refusal(InvalidArgument, buffer_file.name, 0, shm_dir=folder) == (
        f"length_bytes: the shared memory buffer {buffer_file} cannot be empty"
    )
    assert refusal(
        ResourceExhausted,
        buffer_file.name,
        1024,
        shm_dir=folder,
        limits=SharedMemoryLimits(max_bytes=1023),
    ) == (
        "length_bytes: 1024 bytes of shared memory is more than this server maps for a stream"
        " (0 MiB, maxSharedMemoryMiB)"
    )
    big = folder / "big"
    big.write_bytes(bytes(3 * MIB))
    assert refusal(
        ResourceExhausted,
        "big",
        3 * MIB,
        shm_dir=folder,
        limits=SharedMemoryLimits(max_bytes=2 * MIB + 1),
    ).endswith(" (2 MiB, maxSharedMemoryMiB)")
    # Exactly the limit is allowed.
    SharedMemoryTransport(
        buffer_file.name, 1024, shm_dir=folder, limits=SharedMemoryLimits(max_bytes=1024)
    ).close()


def test_files_that_are_not_what_they_claim(buffer_file, tmp_path):
    assert refusal(NotFound, "missing", 10, shm_dir=tmp_path) == (
        f"handle_name: {tmp_path / 'missing'} does not exist; the client creates it before the"
        " descriptor (in containers both modules must share an IPC namespace)"
    )
    os.mkfifo(tmp_path / "fifo")
    assert refusal(InvalidArgument, "fifo", 10, shm_dir=tmp_path) == (
        f"handle_name: {tmp_path / 'fifo'} is not a regular file"
    )
    os.symlink(buffer_file, tmp_path / "link")
    assert refusal(InvalidArgument, "link", 10, shm_dir=tmp_path) == (
        f"handle_name: {tmp_path / 'link'} is a symbolic link"
    )
    not_a_folder = buffer_file  # a "directory" that is a file: ENOTDIR
    assert refusal(InvalidArgument, "x", 10, shm_dir=not_a_folder) == (
        f"handle_name: cannot open {buffer_file / 'x'}: Not a directory"
    )


@pytest.mark.parametrize("limits", [SharedMemoryLimits(), COPY], ids=["mapped", "copied"])
def test_a_file_shrunk_under_the_stream_ends_it_with_what_happened(buffer_file, limits):
    transport = SharedMemoryTransport(
        buffer_file.name, 1024, shm_dir=buffer_file.parent, limits=limits
    )
    try:
        assert bytes(transport.sample_bytes(referenced(500, 4))) == bytes(range(244, 248))
        os.truncate(buffer_file, 600)
        assert (
            bytes(transport.sample_bytes(referenced(100, 500))) == (bytes(range(256)) * 4)[100:600]
        )
        with pytest.raises(InvalidArgument) as raised:
            transport.sample_bytes(referenced(500, 200))
        assert raised.value.message == (
            f"handle_name: the shared memory file {buffer_file.name} shrank to 600 bytes under"
            " the stream (declared 1024); the reference [500, 700) lies past its end"
        )
    finally:
        transport.close()


def test_copy_mode_reads_a_copy_and_the_descriptor_gets_the_limits(buffer_file):
    shm = descriptor(shm=(buffer_file.name, 1024)).media_stream_descriptor
    with pytest.raises(ResourceExhausted, match="maxSharedMemoryMiB"):
        open_transport(shm, SharedMemoryLimits(max_bytes=512))
    transport = SharedMemoryTransport(
        buffer_file.name, 1024, shm_dir=buffer_file.parent, limits=COPY
    )
    try:
        frame = transport.sample_bytes(referenced(1, 3))
        assert bytes(frame) == b"\x01\x02\x03" and not frame.readonly  # a copy, not the file
        os.truncate(buffer_file, 0)
        assert bytes(frame) == b"\x01\x02\x03"
    finally:
        transport.close()


def test_embedded_bytes_on_a_shared_memory_stream_are_taken_as_they_are(buffer_file):
    transport = SharedMemoryTransport(buffer_file.name, 1024, shm_dir=buffer_file.parent)
    try:
        sample = extension_pb2.MediaSample(content_bytes=media_pb2.ContentBytes(bytes=b"abc"))
        assert bytes(transport.sample_bytes(sample)) == b"abc"
    finally:
        transport.close()


def test_closing_unmaps_quietly_unless_a_processor_kept_a_frame(buffer_file, caplog):
    caplog.set_level(logging.WARNING, logger="lva_extension.transports.shared_memory")
    transport = SharedMemoryTransport(buffer_file.name, 1024, shm_dir=buffer_file.parent)
    frame = transport.sample_bytes(referenced(0, 4))
    frame.release()
    transport.close()
    assert caplog.messages == []

    transport = SharedMemoryTransport(buffer_file.name, 1024, shm_dir=buffer_file.parent)
    kept = transport.sample_bytes(referenced(0, 4))[1:]  # a processor's own slice of it
    transport.close()
    assert caplog.messages == [
        f"shared memory {buffer_file.name} is still referenced by a processor after the stream"
        " ended; it is unmapped when those references are dropped"
    ]
    assert bytes(kept) == b"\x01\x02\x03"  # still readable: nothing was unmapped under it
