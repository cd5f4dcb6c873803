"""Frames in a /dev/shm file the client owns, mapped read-only once per stream."""

from __future__ import annotations

import errno
import logging
import mmap
import os
import stat
from pathlib import Path

from ..contract import SHM_DIR
from ..errors import InvalidArgument, NotFound, PermissionDenied
from ..proto import extension_pb2
from .base import Transport

log = logging.getLogger(__name__)

_MAX_HANDLE_LENGTH = 255


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
