"""The transports in-process, on fake samples and files in a temporary folder.

Real /dev/shm files and real streams are tested in tests/extension/stream; here
each transport's own rules: which content it accepts, the bounds of a
reference, which files it refuses to map.
"""

from __future__ import annotations

import os

import pytest
from lva_extension.errors import InvalidArgument, NotFound
from lva_extension.proto import extension_pb2, media_pb2
from lva_extension.transports import (
    EmbeddedTransport,
    SharedMemoryTransport,
    open_transport,
    transfer_kind,
)

from tests.support.streams import descriptor, referenced


def embedded(data: bytes) -> extension_pb2.MediaSample:
    return extension_pb2.MediaSample(content_bytes=media_pb2.ContentBytes(bytes=data))


def test_the_descriptor_picks_the_transport(buffer_file):
    plain = descriptor().media_stream_descriptor
    assert transfer_kind(plain) == "embedded"
    assert isinstance(open_transport(plain), EmbeddedTransport)
    shm = descriptor(shm=("x", 10)).media_stream_descriptor
    assert transfer_kind(shm) == "sharedMemory"


def test_embedded_gives_the_message_bytes_and_refuses_references():
    transport = EmbeddedTransport()
    assert bytes(transport.sample_bytes(embedded(b"abc"))) == b"abc"
    with pytest.raises(InvalidArgument, match="declared no shared memory"):
        transport.sample_bytes(referenced(0, 3))


def test_shared_memory_gives_a_view_of_the_referenced_range(buffer_file):
    transport = SharedMemoryTransport(buffer_file.name, 1024, shm_dir=buffer_file.parent)
    try:
        view = transport.sample_bytes(referenced(10, 5))
        assert bytes(view) == bytes(range(10, 15))
        assert isinstance(view, memoryview) and view.readonly
        view.release()
    finally:
        transport.close()


@pytest.mark.parametrize(("offset", "length"), [(0, 0), (1020, 5), (2**63, 1)])
def test_shared_memory_refuses_references_outside_the_buffer(buffer_file, offset, length):
    transport = SharedMemoryTransport(buffer_file.name, 1024, shm_dir=buffer_file.parent)
    try:
        with pytest.raises(InvalidArgument, match="inside the 1024-byte shared memory buffer"):
            transport.sample_bytes(referenced(offset, length))
    finally:
        transport.close()


def test_shared_memory_refuses_names_links_missing_files_and_short_files(buffer_file):
    folder = buffer_file.parent
    for name in ("", "a/b", "..", "x\0y"):
        with pytest.raises(InvalidArgument, match="plain file name"):
            SharedMemoryTransport(name, 10, shm_dir=folder)
    os.symlink(buffer_file, folder / "link")
    with pytest.raises(InvalidArgument, match="symbolic link"):
        SharedMemoryTransport("link", 10, shm_dir=folder)
    with pytest.raises(NotFound, match="does not exist"):
        SharedMemoryTransport("missing", 10, shm_dir=folder)
    with pytest.raises(InvalidArgument, match="declares 4096 bytes"):
        SharedMemoryTransport(buffer_file.name, 4096, shm_dir=folder)
