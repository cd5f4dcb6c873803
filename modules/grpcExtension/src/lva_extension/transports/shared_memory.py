"""Frames in a /dev/shm file the client owns, mapped read-only once per stream."""

from __future__ import annotations

import errno
import logging
import mmap
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..contract import SHM_DIR
from ..errors import InvalidArgument, NotFound, PermissionDenied, ResourceExhausted, quote
from ..proto import extension_pb2
from .base import Transport

log = logging.getLogger(__name__)

_MAX_HANDLE_LENGTH = 255


@dataclass(frozen=True)
class SharedMemoryLimits:
    """How the server maps clients' shared memory (from the settings)."""

    max_bytes: int = 1 << 30  # maxSharedMemoryMiB
    copy: bool = False  # sharedMemoryCopy: pread each frame instead of reading the mapping


class SharedMemoryTransport(Transport):
    """Frames in a /dev/shm file the client owns, mapped read-only once per stream.

    The client can shrink the file under the stream; a page of the mapping past
    the new end then raises SIGBUS in whichever thread touches it, which ends the
    process (Python cannot resume after it, as a C compositor's SIGBUS handler
    can). So every sample's range is checked against the file's size (fstat)
    before anything touches it, and a shrunk file ends the stream. That check
    cannot cover a file shrunk *while* the frame is read; with ``copy`` the frame
    is instead read with pread, which returns short rather than faulting.
    """

    kind = "sharedMemory"

    def __init__(
        self,
        handle_name: str,
        length_bytes: int,
        shm_dir: Path = SHM_DIR,
        limits: SharedMemoryLimits = SharedMemoryLimits(),
    ) -> None:
        self.handle_name = _checked_handle(handle_name)
        self.length = length_bytes
        self._copy = limits.copy
        self._fd = _open_regular(shm_dir / self.handle_name, length_bytes, limits.max_bytes)
        self._mapping: mmap.mmap | None = None
        self._view: memoryview | None = None
        if not self._copy:
            try:
                self._mapping = _map_read_only(self._fd, self.handle_name, length_bytes)
            except BaseException:
                os.close(self._fd)
                raise
            self._view = memoryview(self._mapping)

    def sample_bytes(self, sample: extension_pb2.MediaSample) -> bytes | memoryview:
        if sample.WhichOneof("content") == "content_bytes":
            return sample.content_bytes.bytes
        reference = sample.content_reference
        start, length = reference.address_offset, reference.length_bytes
        end = start + length
        if length == 0 or end > self.length:
            raise InvalidArgument(
                f"content_reference: [{start}, {end}) must be a non-empty range"
                f" inside the {self.length}-byte shared memory buffer"
            )
        if self._view is None:
            return self._read_copy(start, length)
        size = os.fstat(self._fd).st_size
        if size < end:
            raise self._shrunk(size, start, end)
        return self._view[start:end]

    def _read_copy(self, start: int, length: int) -> memoryview:
        frame = bytearray(length)
        got = os.preadv(self._fd, [frame], start)
        if got < length:
            raise self._shrunk(os.fstat(self._fd).st_size, start, start + length)
        return memoryview(frame)

    def _shrunk(self, size: int, start: int, end: int) -> InvalidArgument:
        return InvalidArgument(
            f"handle_name: the shared memory file {self.handle_name} shrank to {size} bytes"
            f" under the stream (declared {self.length}); the reference [{start}, {end})"
            " lies past its end"
        )

    def close(self) -> None:
        try:
            if self._view is not None:
                self._view.release()
            if self._mapping is not None:
                self._mapping.close()
        except BufferError:
            # A processor kept a frame array past process(); the mapping goes
            # away when that array does.
            log.warning(
                "shared memory %s is still referenced by a processor after the stream ended;"
                " it is unmapped when those references are dropped",
                self.handle_name,
            )
        finally:
            os.close(self._fd)


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
            f" at most {_MAX_HANDLE_LENGTH} bytes), got {quote(name)}"
        )
    return name


def _open_regular(path: Path, length: int, max_bytes: int) -> int:
    """An fd of the regular file ``path`` that holds at least ``length`` bytes."""
    if length == 0:
        raise InvalidArgument(f"length_bytes: the shared memory buffer {path} cannot be empty")
    if length > max_bytes:
        raise ResourceExhausted(
            f"length_bytes: {length} bytes of shared memory is more than this server maps"
            f" for a stream ({max_bytes // (1 << 20)} MiB, maxSharedMemoryMiB)"
        )
    try:
        # Non-blocking: opening a FIFO for reading would wait for a writer forever.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
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
        if error.errno in (errno.EMFILE, errno.ENFILE, errno.ENOMEM):
            raise ResourceExhausted(f"handle_name: cannot open {path}: {error.strerror}") from None
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
    except BaseException:
        os.close(fd)
        raise
    return fd


def _map_read_only(fd: int, name: str, length: int) -> mmap.mmap:
    try:
        return mmap.mmap(fd, length, access=mmap.ACCESS_READ)
    except OSError as error:
        if error.errno == errno.ENOMEM:
            raise ResourceExhausted(
                f"length_bytes: cannot map {length} bytes of {name}: the server is out of"
                " address space or memory"
            ) from None
        raise InvalidArgument(f"handle_name: cannot map {name}: {error.strerror}") from None
