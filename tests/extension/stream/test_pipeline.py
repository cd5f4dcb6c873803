"""One batch of a stream through its pipeline, in process: what the processor is given,
what the stream gets back, and the log lines an operator reads when a plugin misbehaves."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence

import numpy as np
import pytest
from lva_extension import Frame, Processor, inferences
from lva_extension.errors import InvalidArgument
from lva_extension.frames.format import parse_format
from lva_extension.proto.inferencing_pb2 import Inference
from lva_extension.stream.pipeline import FramePipeline
from lva_extension.transports import EmbeddedTransport

from tests.support.streams import descriptor, reference, sample

PIPELINE_LOG = "lva_extension.stream.pipeline"
WIDTH, HEIGHT = 8, 4
FRAME_BYTES = WIDTH * HEIGHT * 3


class Recorder(Processor):
    """Tags each frame with its timestamp and mean; keeps the frames when asked to."""

    def __init__(self, keep: bool = False) -> None:
        self.keep = keep
        self.seen: list[tuple[int, tuple[int, ...], int, list[str]]] = []
        self.kept: list[np.ndarray] = []
        self.closed = False

    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        out = []
        for frame in frames:
            upstream = [i.classification.tag.value for i in frame.inferences]
            self.seen.append((frame.timestamp, frame.image.shape, int(frame.image.sum()), upstream))
            if self.keep:
                self.kept.append(frame.image)
            out.append([inferences.classification(f"t{frame.timestamp}")])
        return out

    def close(self) -> None:
        self.closed = True


class Fails(Processor):
    """Raises ``error`` from every batch."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        raise self.error


class TooFew(Processor):
    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        return [[] for _ in frames[1:]]


class ExitsOnClose(Recorder):
    def close(self) -> None:
        raise SystemExit(5)


class Transport(EmbeddedTransport):
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def pipeline(processor: Processor, transport: EmbeddedTransport | None = None) -> FramePipeline:
    fmt = parse_format(descriptor(WIDTH, HEIGHT).media_stream_descriptor.media_descriptor, 1 << 20)
    return FramePipeline(transport or Transport(), fmt, processor, "acme", 1 << 20)


def frame(value: int, extra: int = 0) -> bytes:
    return bytes([value]) * FRAME_BYTES + b"\xff" * extra


def batch(*samples: tuple[int, bytes]) -> list:
    out = []
    for sequence, data in samples:
        message = sample(sequence, data, timestamp=sequence * 1000)
        message.media_sample.inferences.add().classification.tag.value = f"up{sequence}"
        out.append((sequence, message.media_sample))
    return out


def records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == PIPELINE_LOG]


def test_each_frame_reaches_the_processor_with_its_timestamp_and_upstream_inferences():
    processor = Recorder()
    before = time.perf_counter()
    result = pipeline(processor).process(batch((3, frame(1)), (4, frame(2))))
    took = time.perf_counter() - before
    assert processor.seen == [
        (3000, (HEIGHT, WIDTH, 3), FRAME_BYTES, ["up3"]),
        (4000, (HEIGHT, WIDTH, 3), 2 * FRAME_BYTES, ["up4"]),
    ]
    assert [[i.classification.tag.value for i in r] for r in result.inferences] == [
        ["t3000"],
        ["t4000"],
    ]
    assert result.failed_frames == 0
    assert 0 < result.seconds <= took


@pytest.mark.parametrize(
    ("processor", "error"),
    [
        (Fails(ValueError("model exploded")), ValueError),
        (Fails(SystemExit(3)), SystemExit),
        (TooFew(), RuntimeError),
    ],
)
def test_a_failing_processor_costs_its_frames_inferences_and_one_error_line(
    caplog, processor, error
):
    caplog.set_level(logging.DEBUG, logger=PIPELINE_LOG)
    stream = pipeline(processor)
    first = stream.process(batch((1, frame(1)), (2, frame(2))))
    second = stream.process(batch((3, frame(3))))
    assert (first.inferences, first.failed_frames) == ([[], []], 2)
    assert (second.inferences, second.failed_frames) == ([[]], 1)
    lines = records(caplog)
    assert [r.levelno for r in lines] == [logging.ERROR, logging.DEBUG]
    assert [r.getMessage() for r in lines] == [
        f"processor acme failed on {n} frame(s); they are acknowledged without inferences"
        " (later failures of this stream are logged at DEBUG and counted)"
        for n in (2, 1)
    ]
    assert all(r.exc_info and r.exc_info[0] is error for r in lines)


def test_the_wrong_number_of_results_is_named_in_the_log(caplog):
    caplog.set_level(logging.ERROR, logger=PIPELINE_LOG)
    pipeline(TooFew()).process(batch((1, frame(1)), (2, frame(2)), (3, frame(3))))
    (line,) = records(caplog)
    assert line.exc_info is not None
    assert str(line.exc_info[1]) == "process() returned 2 results for 3 frames"


def test_trailing_bytes_are_ignored_and_logged_once_per_stream(caplog):
    caplog.set_level(logging.DEBUG, logger=PIPELINE_LOG)
    processor = Recorder()
    stream = pipeline(processor)
    stream.process(batch((1, frame(1, extra=1))))
    stream.process(batch((2, frame(2, extra=5))))
    assert [sum_ for _, _, sum_, _ in processor.seen] == [FRAME_BYTES, 2 * FRAME_BYTES]
    (line,) = records(caplog)
    assert line.levelno == logging.WARNING
    assert line.getMessage() == (
        f"{FRAME_BYTES + 1}-byte samples for {FRAME_BYTES}-byte frames"
        f" (RAW RGB24 {WIDTH}x{HEIGHT} stride {WIDTH * 3}): the trailing bytes are ignored"
        " (logged once per stream)"
    )


def test_an_exact_sample_is_not_called_trailing(caplog):
    caplog.set_level(logging.DEBUG, logger=PIPELINE_LOG)
    pipeline(Recorder()).process(batch((1, frame(1))))
    assert records(caplog) == []


def test_a_processor_that_keeps_frames_is_warned_once(caplog):
    caplog.set_level(logging.DEBUG, logger=PIPELINE_LOG)
    processor = Recorder(keep=True)
    stream = pipeline(processor)
    # Trailing bytes make the frame a view of a memoryview: released after process().
    stream.process(batch((1, frame(1, extra=2))))
    stream.process(batch((2, frame(2, extra=2))))
    warnings = [r for r in records(caplog) if "keeps frames" in r.getMessage()]
    assert [r.getMessage() for r in warnings] == [
        "processor acme keeps frames past process(); copy frames you keep: shared memory"
        " may be overwritten once a sample is acknowledged"
    ]
    assert warnings[0].levelno == logging.WARNING


def test_a_processor_that_lets_go_of_its_frames_is_not_warned(caplog):
    caplog.set_level(logging.DEBUG, logger=PIPELINE_LOG)
    pipeline(Recorder()).process(batch((1, frame(1, extra=2))))
    assert not [r for r in records(caplog) if "keeps frames" in r.getMessage()]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            sample(7, frame(1)[:-10]),
            f"sample 7: RAW RGB24 {WIDTH}x{HEIGHT} stride {WIDTH * 3} needs {FRAME_BYTES}"
            f" bytes, got {FRAME_BYTES - 10}",
        ),
        (
            reference(7, 0, FRAME_BYTES),
            "sample 7: got a content_reference, but the stream's descriptor declared no"
            " shared memory buffer (expected content_bytes)",
        ),
    ],
)
def test_a_bad_sample_is_named_by_its_sequence_number(message, expected):
    processor = Recorder()
    with pytest.raises(InvalidArgument) as raised:
        pipeline(processor).process([(7, message.media_sample)])
    assert type(raised.value) is InvalidArgument
    assert raised.value.message == expected
    assert processor.seen == []


def test_closing_closes_the_processor_then_the_transport():
    processor, transport = Recorder(), Transport()
    pipeline(processor, transport).close()
    assert processor.closed and transport.closed


def test_a_processor_that_exits_on_close_is_logged_and_the_transport_still_closed(caplog):
    caplog.set_level(logging.DEBUG, logger=PIPELINE_LOG)
    transport = Transport()
    pipeline(ExitsOnClose(), transport).close()
    assert transport.closed
    (line,) = records(caplog)
    assert line.levelno == logging.ERROR
    assert line.getMessage() == "processor acme failed to close"
    assert line.exc_info and line.exc_info[0] is SystemExit


KEEPER = """
import logging, os, sys
from pathlib import Path
from lva_extension.frames.format import parse_format
from lva_extension.stream.pipeline import FramePipeline
from lva_extension.transports import SharedMemoryTransport
from tests.extension.stream.test_pipeline import FRAME_BYTES, HEIGHT, WIDTH, Recorder
from tests.support.streams import descriptor, reference

logging.basicConfig(level=logging.WARNING, format="%(message)s")
name = sys.argv[1]
fmt = parse_format(descriptor(WIDTH, HEIGHT).media_stream_descriptor.media_descriptor, 1 << 20)
keeper = Recorder(keep=True)
transport = SharedMemoryTransport(name, FRAME_BYTES, shm_dir=Path("/dev/shm"))
stream = FramePipeline(transport, fmt, keeper, "acme", 1 << 20)
sent = reference(2, 0, FRAME_BYTES)
stream.process([(2, sent.media_sample)])
stream.close()  # the stream ends while the processor still holds its frame
os.unlink(Path("/dev/shm") / name)
print("kept frame sums to", int(keeper.kept[0].sum()), flush=True)
"""


def test_a_frame_kept_past_its_stream_stays_readable_and_is_reported(tmp_path):
    """A processor that keeps a shared-memory frame after its stream ended reads it
    safely (the mapping stays until the frame goes) and the operator is told twice:
    when the frame outlives process(), and when the stream ends with it still held."""
    name = f"lva-test-keeper-{uuid.uuid4().hex[:12]}"
    with open(f"/dev/shm/{name}", "wb") as shm:
        shm.write(bytes([3]) * FRAME_BYTES)
    try:
        done = subprocess.run(
            [sys.executable, "-c", KEEPER, name], capture_output=True, text=True, timeout=60
        )
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"/dev/shm/{name}")
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    assert done.stdout.strip() == f"kept frame sums to {3 * FRAME_BYTES}"
    assert "processor acme keeps frames past process()" in done.stderr
    assert f"shared memory {name} is still referenced by a processor" in done.stderr
