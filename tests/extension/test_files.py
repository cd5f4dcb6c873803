"""Files a stream's options name, read from the model directory only (in this process;
tests/extension/hostile/test_model_files.py attacks a real server with the same)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from lva_extension import files
from lva_extension.errors import DeadlineExceeded, InvalidArgument, NotFound
from lva_extension.files import FileRoom

MIB = 1 << 20


@pytest.fixture
def room(tmp_path) -> FileRoom:
    models = tmp_path / "models"
    (models / "sub").mkdir(parents=True)
    (models / "labels.txt").write_text("red\ngreen\n")
    (models / "sub" / "deep.txt").write_text("deep\n")
    (models / "latin1.txt").write_bytes("rouge é".encode("latin-1"))
    (models / "exactly-one-mib.bin").write_bytes(bytes(MIB))
    (models / "over.bin").write_bytes(bytes(MIB + 1))
    (tmp_path / "secret.txt").write_text("root:x:0:0")
    (models / "escape").symlink_to(tmp_path / "secret.txt")
    (models / "inside-link").symlink_to(models / "labels.txt")
    os.mkfifo(models / "fifo.txt")
    return FileRoom(str(models), MIB, 5)


def not_found(room: FileRoom, name: object, option: str = "labelsFile") -> str:
    with pytest.raises(NotFound) as raised:
        room.open(name, option)  # type: ignore[arg-type]
    return raised.value.message


def test_files_inside_are_read_whole(room):
    assert room.read_text("labels.txt", "labelsFile") == "red\ngreen\n"
    assert room.read_text("sub/deep.txt", "labelsFile") == "deep\n"
    assert room.read_text(f"{room.root}/labels.txt", "labelsFile") == "red\ngreen\n"
    assert room.read_text("inside-link", "labelsFile") == "red\ngreen\n"
    with room.open("exactly-one-mib.bin", "model") as opened:  # the cap itself is allowed
        assert opened.read() == bytes(MIB)
        assert (opened.name, opened.option, opened.size) == ("exactly-one-mib.bin", "model", MIB)
        assert opened.path == Path(os.path.realpath(room.root), "exactly-one-mib.bin")


@pytest.mark.parametrize(
    "name",
    [
        "missing.txt",
        "../secret.txt",
        "escape",  # a link that leads out
        "fifo.txt",
        "sub",
        ".",
        "",
        "labels.txt\0.png",
        "/etc/passwd",
    ],
)
def test_anything_else_is_not_found_in_the_model_directory(room, name):
    assert not_found(room, name) == f"labelsFile: {name!r} not found in the model directory"


def test_a_name_that_is_not_text_is_not_found(room):
    assert not_found(room, 5, "model") == "model: 5 not found in the model directory"


def test_without_a_model_directory_no_file_can_be_named(room):
    nowhere = FileRoom("", MIB, 5)
    assert not_found(nowhere, "labels.txt") == (
        "labelsFile: 'labels.txt' not found in the model directory"
    )
    # What processors get when the server set no directory for them.
    assert files.current() == FileRoom("", 0, 0)
    with files.using(room):
        assert files.current() is room
    assert files.current() == FileRoom("", 0, 0)


def test_a_file_over_the_cap_is_refused_unread(room):
    with pytest.raises(InvalidArgument) as raised:
        room.open("over.bin", "model")
    assert raised.value.message == (
        "model: 'over.bin' is larger than this server reads (1 MiB, maxModelFileMiB)"
    )


def test_the_cap_is_said_in_whole_mib(tmp_path):
    (tmp_path / "big.bin").write_bytes(bytes(3 * MIB))
    with pytest.raises(InvalidArgument, match=r"\(2 MiB, maxModelFileMiB\)$"):
        FileRoom(str(tmp_path), 2 * MIB + 5, 5).open("big.bin", "model")


def test_a_file_that_is_not_utf8_is_refused_without_quoting_it(room):
    with pytest.raises(InvalidArgument) as raised:
        room.read_text("latin1.txt", "labelsFile")
    assert raised.value.message == "labelsFile: latin1.txt is not UTF-8 text"


def test_reading_that_takes_too_long_stops_with_the_option_and_the_limit(tmp_path):
    (tmp_path / "model.bin").write_bytes(bytes(3 * MIB))  # three chunks
    slow = FileRoom(str(tmp_path), 8 * MIB, 0.000_001)
    with slow.open("model.bin", "model") as opened:
        time.sleep(0.001)  # the deadline has passed before the first chunk is read
        with pytest.raises(DeadlineExceeded) as raised:
            opened.read()
    assert raised.value.message == "model: reading model.bin took over 1e-06s"


def test_a_file_truncated_while_open_reads_as_what_is_left(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"abcdef" * MIB)
    with FileRoom(str(tmp_path), 8 * MIB, 5).open("model.bin", "model") as opened:
        os.truncate(path, MIB + 3)
        assert opened.read() == (b"abcdef" * MIB)[: MIB + 3]


def test_a_file_that_grows_while_open_reads_as_it_was_opened(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"a" * (MIB + 3))
    with FileRoom(str(tmp_path), 8 * MIB, 5).open("model.bin", "model") as opened:
        with path.open("ab") as more:
            more.write(b"b" * MIB)
        assert opened.read() == b"a" * (MIB + 3)


def test_opened_files_are_closed(room):
    with room.open("labels.txt", "labelsFile") as opened:
        fd = opened.fd
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(fd)
    before = set(os.listdir("/proc/self/fd"))
    with pytest.raises(InvalidArgument):
        room.open("over.bin", "model")
    assert set(os.listdir("/proc/self/fd")) == before  # refused after open: closed again
