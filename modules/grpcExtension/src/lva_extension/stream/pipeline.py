"""One batch of a stream, from sample bytes to inferences: read, decode, process.

The same code runs in the server process (on the event loop or a thread) and,
with ``processingProcesses``, in a processing process.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ExtensionError
from ..frames import FrameFormat, decode
from ..processors.base import Frame, Processor
from ..proto import extension_pb2, inferencing_pb2
from ..transports import Transport

log = logging.getLogger(__name__)

Inferences = list[inferencing_pb2.Inference]
Batch = list[tuple[int, extension_pb2.MediaSample]]  # (sequence number, sample) pairs


@dataclass(frozen=True)
class BatchResult:
    inferences: list[Inferences]  # one list per frame, in the batch's order
    failed_frames: int  # frames whose processor raised (acknowledged without inferences)
    seconds: float  # how long the batch took


class FramePipeline:
    """A stream's transport, frame format and processor, applied to batches."""

    def __init__(
        self,
        transport: Transport,
        fmt: FrameFormat,
        processor: Processor,
        processor_name: str,
        max_frame_pixels: int,
    ) -> None:
        self.transport = transport
        self.format = fmt
        self.processor = processor
        self.processor_name = processor_name
        self.max_frame_pixels = max_frame_pixels
        self._failures = 0
        self._lock = threading.Lock()  # batches of thread-safe processors run side by side
        self._warned_kept_frame = False
        self._warned_trailing = False

    def process(self, batch: Sequence[tuple[int, extension_pb2.MediaSample]]) -> BatchResult:
        """Process (sequence number, sample) pairs; the bytes are released on return."""
        started = time.perf_counter()
        buffers: list[bytes | memoryview] = []
        frames: list[Frame] = []
        # Views of memory the client may reuse once the sample is acknowledged: if one
        # outlives process(), the processor kept it. (Releasing the memoryview cannot
        # tell: numpy's views hold the buffer underneath it, not an export of it.)
        views: list[weakref.ref[np.ndarray]] = []
        try:
            for sequence, sample in batch:
                read, image = read_sample(
                    self.transport,
                    self.format,
                    sequence,
                    sample,
                    self.max_frame_pixels,
                    self._trailing,
                )
                buffers.extend(read)
                if not image.flags.owndata and any(isinstance(b, memoryview) for b in read):
                    views.append(weakref.ref(image))
                frames.append(Frame(image, sample.timestamp, tuple(sample.inferences)))
                del image
            inferences, failed = self._process(frames)
        finally:
            # Drop every view of the sample bytes before they are acknowledged.
            frames.clear()
            self._release(buffers, views)
        return BatchResult(inferences, failed, time.perf_counter() - started)

    def _trailing(self, length: int, size: int) -> None:
        if not self._warned_trailing:
            self._warned_trailing = True
            log.warning(
                "%d-byte samples for %d-byte frames (%s): the trailing bytes are ignored"
                " (logged once per stream)",
                length,
                size,
                self.format.describe(),
            )

    def close(self) -> None:
        try:
            self.processor.close()
        except BaseException:  # SystemExit included: a plugin must not stop the server
            log.exception("processor %s failed to close", self.processor_name)
        self.transport.close()

    def _process(self, frames: list[Frame]) -> tuple[list[Inferences], int]:
        try:
            results = self.processor.process(frames)
            if len(results) != len(frames):
                raise RuntimeError(
                    f"process() returned {len(results)} results for {len(frames)} frames"
                )
            return [list(r) for r in results], 0
        except BaseException:  # SystemExit included: a plugin must not stop the server
            with self._lock:
                first = self._failures == 0
                self._failures += len(frames)
            log.log(
                logging.ERROR if first else logging.DEBUG,
                "processor %s failed on %d frame(s); they are acknowledged without inferences"
                " (later failures of this stream are logged at DEBUG and counted)",
                self.processor_name,
                len(frames),
                exc_info=True,
            )
            return [[] for _ in frames], len(frames)

    def _release(
        self, buffers: list[bytes | memoryview], views: list[weakref.ref[np.ndarray]]
    ) -> None:
        kept = any(view() is not None for view in views)
        for buffer in buffers:
            kept = not release(buffer) or kept
        if kept and not self._warned_kept_frame:
            self._warned_kept_frame = True
            log.warning(
                "processor %s keeps frames past process(); copy frames you keep:"
                " shared memory may be overwritten once a sample is acknowledged",
                self.processor_name,
            )


def read_sample(
    transport: Transport,
    fmt: FrameFormat,
    sequence: int,
    sample: extension_pb2.MediaSample,
    max_frame_pixels: int,
    trailing: Callable[[int, int], None] | None = None,
) -> tuple[list[bytes | memoryview], np.ndarray]:
    """A sample's buffers and its frame (a view of them where the format allows).

    Release each buffer with ``release`` once every view of it is gone. A RAW
    sample may be longer than its frame (a client in the field declares every
    slot a byte longer): the frame is all there, the rest is ignored (and
    ``trailing(length, size)`` told).
    """
    buffers: list[bytes | memoryview] = []
    try:
        data = transport.sample_bytes(sample)
        buffers.append(data)
        if fmt.is_raw:
            longest = max(most for _, most in fmt.sample_sizes)
            if len(data) > longest:
                if trailing is not None:
                    trailing(len(data), longest)
                data = memoryview(data)[:longest]
                buffers.append(data)
        return buffers, decode(fmt, data, max_frame_pixels)
    except ExtensionError as error:
        for buffer in reversed(buffers):
            release(buffer)
        detail = error.message.removeprefix("sample: ")
        raise type(error)(f"sample {sequence}: {detail}") from None


def release(buffer: bytes | memoryview) -> bool:
    """Let go of a sample's bytes; False if something still holds a view of them."""
    if isinstance(buffer, memoryview):
        try:
            buffer.release()
        except BufferError:
            return False
    return True
