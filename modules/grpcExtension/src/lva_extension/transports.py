"""How a sample's bytes reach the server: embedded in the message, or shared memory.

Both transports give the conversation the same thing: a read-only buffer of
one sample's bytes, which the server reads until the sample is acknowledged.
"""

from __future__ import annotations

import errno
import logging
import mmap
import os
import stat
from abc import ABC, abstractmethod
from pathlib import Path

from .errors import InvalidArgument, NotFound, PermissionDenied
from .proto import extension_pb2

log = logging.getLogger(__name__)

SHM_DIR = Path("/dev/shm")
_MAX_HANDLE_LENGTH = 255


class Transport(ABC):
    """Where a stream's sample bytes come from."""

    kind: str

    @abstractmethod
    def sample_bytes(self, sample: extension_pb2.MediaSample) -> bytes | memoryview:
        """The bytes of one sample's frame; valid until the sample is acknowledged."""

    def close(self) -> None:  # noqa: B027 - optional hook: embedded frames hold nothing
        """Release what the stream held; called once when the stream ends."""


class EmbeddedTransport(Transport):
    """Frames carried in the messages themselves (content_bytes)."""

    kind = "embedded"

    def sample_bytes(self, sample: extension_pb2.MediaSample) -> bytes | memoryview:
        if sample.WhichOneof("content") != "content_bytes":
            raise InvalidArgument(
                "sample: got a content_reference, but the stream's descriptor declared no"
                " shared memory buffer (expected content_bytes)"
            )
        return sample.content_bytes.bytes


class SharedMemoryTransport(Transport):
    """Frames in a /dev/shm file the client owns, mapped read-only once per stream."""

    kind = "sharedMemory"

    def __init__(self, handle_name: str, length_bytes: int, shm_dir: Path = SHM_DIR) -> None:
        self.handle_name = _checked_handle(handle_name)
        self.length = length_bytes
        path = shm_dir / self.handle_name
        self._mapping = _map_read_only(path, length_bytes)
        self._view = memoryview(self._mapping)

    def sample_bytes(self, sample: extension_pb2.MediaSample) -> bytes | memoryview:
        if sample.WhichOneof("content") == "content_bytes":
            return sample.content_bytes.bytes
        reference = sample.content_reference
        start, length = reference.address_offset, reference.length_bytes
        if length == 0 or start + length > self.length:
            raise InvalidArgument(
                f"content_reference: [{start}, {start + length}) must be a non-empty range"
                f" inside the {self.length}-byte shared memory buffer"
            )
        return self._view[start : start + length]

    def close(self) -> None:
        try:
            self._view.release()
            self._mapping.close()
        except BufferError:
            # A processor kept a frame array past process(); the mapping goes
            # away when that array does.
            log.warning(
                "shared memory %s is still referenced by a processor after the stream ended;"
                " it is unmapped when those references are dropped",
                self.handle_name,
            )


def _checked_handle(name: str) -> str:
    if (
        not name
        or "/" in name
        or "\0" in name
        or ".." in name
        or name == "."
        or len(name.encode()) > _MAX_HANDLE_LENGTH
    ):
        raise InvalidArgument(
            f"handle_name: expected a plain file name in {SHM_DIR} (no '/', '..' or NUL,"
            f" at most {_MAX_HANDLE_LENGTH} bytes), got {name!r}"
        )
    return name


def _map_read_only(path: Path, length: int) -> mmap.mmap:
    if length == 0:
        raise InvalidArgument(f"length_bytes: the shared memory buffer {path} cannot be empty")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFound(
            f"handle_name: {path} does not exist; the client creates it before the descriptor"
            " (in containers both modules must share an IPC namespace)"
        ) from None
    except PermissionError:
        raise PermissionDenied(f"handle_name: this server may not read {path}") from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise InvalidArgument(f"handle_name: {path} is a symbolic link") from None
        raise InvalidArgument(f"handle_name: cannot open {path}: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidArgument(f"handle_name: {path} is not a regular file")
        if length > info.st_size:
            raise InvalidArgument(
                f"length_bytes: the descriptor declares {length} bytes,"
                f" but {path} holds {info.st_size}"
            )
        return mmap.mmap(fd, length, access=mmap.ACCESS_READ)
    finally:
        os.close(fd)


def transfer_kind(descriptor: extension_pb2.MediaStreamDescriptor) -> str:
    """How a stream's descriptor says its frames travel: embedded or sharedMemory."""
    if descriptor.WhichOneof("data_transfer_properties") is None:
        return EmbeddedTransport.kind
    return SharedMemoryTransport.kind


def open_transport(descriptor: extension_pb2.MediaStreamDescriptor) -> Transport:
    """The transport a stream's descriptor asks for."""
    if descriptor.WhichOneof("data_transfer_properties") is None:
        return EmbeddedTransport()
    shm = descriptor.shared_memory_buffer_transfer_properties
    return SharedMemoryTransport(shm.handle_name, shm.length_bytes)
