"""Files a client names (a model, a labels file): only the operator's, read safely.

A stream's options may name a file. It must lie, after every symbolic link is
resolved, inside the directory the operator configured (``modelDir``), be a
regular file (never a FIFO or a device, which block or never end), be under a
size cap, and be read within a time limit. Anything else is "not found in the
model directory", in the same words whether the file is missing, outside the
directory or unreadable, so that a client learns nothing of the rest of the
machine; and no message ever quotes what a file holds.

Processors find the directory of the stream being opened with ``current()``;
the server sets it with ``using()`` around a processor's creation.
"""

from __future__ import annotations

import contextvars
import errno
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import DeadlineExceeded, InvalidArgument, NotFound, shorten

_CHUNK = 1 << 20


@dataclass(frozen=True)
class OpenedFile:
    """A regular file inside the directory, open for reading (close it, or use ``with``)."""

    path: Path
    name: str  # as the client wrote it, for messages
    option: str
    fd: int
    size: int
    stamp: tuple[int, int]  # (mtime_ns, size): changes when the file is replaced or edited
    timeout: float

    def read(self) -> bytes:
        """The whole file, read in chunks with a deadline (a slow disk blocks no one forever)."""
        deadline = time.monotonic() + self.timeout
        chunks: list[bytes] = []
        got = 0
        while got < self.size:
            chunk = os.pread(self.fd, min(_CHUNK, self.size - got), got)
            if not chunk:  # truncated while we read: what is left is what it holds
                break
            chunks.append(chunk)
            got += len(chunk)
            if time.monotonic() > deadline:
                raise DeadlineExceeded(
                    f"{self.option}: reading {shorten(self.name)} took over {self.timeout:g}s"
                )
        return b"".join(chunks)

    def read_text(self) -> str:
        try:
            return self.read().decode("utf-8")
        except UnicodeDecodeError:
            # The decoder's message would quote bytes of the file.
            raise InvalidArgument(
                f"{self.option}: {shorten(self.name)} is not UTF-8 text"
            ) from None

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> OpenedFile:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@dataclass(frozen=True)
class FileRoom:
    """A directory the operator lets clients name files in, with the limits on them."""

    root: str
    max_bytes: int
    timeout: float
    label: str = "the model directory"

    def open(self, name: str, option: str) -> OpenedFile:
        """Open ``name`` (relative to the directory, or absolute inside it) for reading."""
        missing = NotFound(f"{option}: {shorten(repr(name))} not found in {self.label}")
        if not isinstance(name, str) or not name or "\0" in name or not self.root:
            raise missing
        root = os.path.realpath(self.root)
        path = os.path.realpath(os.path.join(root, name))
        if os.path.commonpath([root, path]) != root or path == root:
            raise missing
        try:
            # Not opened yet: a FIFO or a device is refused before open() can block
            # or have an effect (opening /dev/ptmx allocates a terminal).
            if not stat.S_ISREG(os.stat(path).st_mode):
                raise missing
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as error:
            if error.errno in (errno.EMFILE, errno.ENFILE, errno.ENOMEM):
                raise  # the server's trouble, not the client's
            raise missing from None
        try:
            info = os.fstat(fd)  # what was opened, whatever the name points at now
            if not stat.S_ISREG(info.st_mode):
                raise missing
            if info.st_size > self.max_bytes:
                raise InvalidArgument(
                    f"{option}: {shorten(repr(name))} is larger than this server reads"
                    f" ({self.max_bytes // (1 << 20)} MiB, maxModelFileMiB)"
                )
        except BaseException:
            os.close(fd)
            raise
        stamp = (info.st_mtime_ns, info.st_size)
        return OpenedFile(Path(path), name, option, fd, info.st_size, stamp, self.timeout)

    def read_text(self, name: str, option: str) -> str:
        with self.open(name, option) as opened:
            return opened.read_text()


_current: contextvars.ContextVar[FileRoom | None] = contextvars.ContextVar(
    "lva_extension_model_directory", default=None
)


def current() -> FileRoom:
    """The model directory of the processor being created; none: no file may be named."""
    room = _current.get()
    return room if room is not None else FileRoom("", 0, 0)


@contextmanager
def using(room: FileRoom) -> Iterator[FileRoom]:
    """Make ``room`` the model directory for what runs inside (a processor's creation)."""
    token = _current.set(room)
    try:
        yield room
    finally:
        _current.reset(token)
