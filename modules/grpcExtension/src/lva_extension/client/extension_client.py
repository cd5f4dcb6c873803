"""The client: opens a stream, sends the descriptor and the frames, reads the acks.

Frames are RGB numpy arrays (stretched to the stream's size and encoded as it
says) or ready-made ``bytes`` sent as they are; their timestamps follow
``nominal_fps`` unless a frame comes as ``TimedFrame(timestamp, frame)``.
The client checks the server as LVA would: every sample acknowledged exactly
once, gap-free sequence numbers, timestamps echoed; anything else is recorded
in ``summary.violations``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import grpc
import numpy as np

from ..contract import Message
from ..frames import ENCODED_FORMATS, PIXEL_LAYOUTS, Encoding, FrameFormat, PixelFormat, encode
from ..frames.resize import resize
from ..proto import extension_pb2, extension_pb2_grpc, media_pb2
from .shm_ring import SharedMemoryRing
from .tracking import FrameResult, SentSample, StreamSummary, Tracker


class TimedFrame(NamedTuple):
    """A frame with its own presentation timestamp (in ``timescale`` units)."""

    timestamp: int
    frame: np.ndarray | bytes


SendableFrame = np.ndarray | bytes | TimedFrame
"""What the client sends: an RGB array, ready-made sample bytes, or either with a timestamp."""


class ExtensionCallError(Exception):
    """The server ended the call with a status other than OK."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


@dataclass(frozen=True)
class StreamFormat:
    """The frame format the client announces and sends."""

    encoding: str = "raw"  # raw, jpg, png or bmp
    pixel_format: str = "rgb24"  # for raw: a PixelFormat name in any case (frames.PIXEL_LAYOUTS)
    width: int = 416
    height: int = 416
    stride_padding: int = 0  # extra bytes at the end of every raw row

    def frame_format(self) -> FrameFormat:
        encoding = Encoding.Value(self.encoding.upper())
        if encoding != Encoding.RAW:
            return FrameFormat(encoding, PixelFormat.NONE, self.width, self.height, 0)
        pixel_format = PixelFormat.Value(self.pixel_format.upper())
        row = self.width * PIXEL_LAYOUTS[pixel_format].bytes_per_pixel
        return FrameFormat(
            encoding, pixel_format, self.width, self.height, row + self.stride_padding
        )

    def descriptor(self, timescale: int) -> media_pb2.MediaDescriptor:
        fmt = self.frame_format()
        return media_pb2.MediaDescriptor(
            timescale=timescale,
            video_frame_sample_format=media_pb2.VideoFrameSampleFormat(
                encoding=cast(Any, fmt.encoding),
                pixel_format=cast(Any, fmt.pixel_format),
                dimensions=media_pb2.Dimensions(width=self.width, height=self.height),
                stride_bytes=fmt.stride if self.stride_padding else 0,
            ),
        )


@dataclass(frozen=True)
class ClientOptions:
    address: str
    format: StreamFormat = StreamFormat()
    shared_memory: bool = False
    shared_memory_bytes: int = 0  # 0: room for `window` frames
    window: int = 8  # samples sent and not yet acknowledged
    fps: float | None = None  # pace the frames; None: as fast as acks allow
    extension_configuration: str = ""
    graph_instance: str = "lva-extension-client"
    graph_node: str = "grpcExtension"
    timescale: int = 90_000
    nominal_fps: float = 30.0  # spacing of the timestamps
    max_message_bytes: int = 64 * 1024 * 1024
    metadata: tuple[tuple[str, str], ...] = ()
    channel_credentials: grpc.ChannelCredentials | None = None
    channel_options: tuple[tuple[str, object], ...] = ()


class ExtensionClient:
    """Streams frames to an extension server the way an LVA graph node does."""

    def __init__(self, options: ClientOptions) -> None:
        self.options = options
        self.summary = StreamSummary()
        self._format = options.format.frame_format()

    def _channel(self) -> grpc.aio.Channel:
        limits = [
            ("grpc.max_send_message_length", self.options.max_message_bytes),
            ("grpc.max_receive_message_length", self.options.max_message_bytes),
            *self.options.channel_options,
        ]
        if self.options.channel_credentials is not None:
            return grpc.aio.secure_channel(
                self.options.address, self.options.channel_credentials, options=limits
            )
        return grpc.aio.insecure_channel(self.options.address, options=limits)

    def _ring(self) -> SharedMemoryRing | None:
        if not self.options.shared_memory:
            return None
        size = self.options.shared_memory_bytes
        if not size:
            per_frame = self._format.frame_bytes or self._format.width * self._format.height * 4
            size = per_frame * (self.options.window + 1)
        return SharedMemoryRing(size)

    def _descriptor(self, ring: SharedMemoryRing | None) -> Message:
        descriptor = extension_pb2.MediaStreamDescriptor(
            graph_identifier=extension_pb2.GraphIdentifier(
                graph_instance_name=self.options.graph_instance,
                graph_node_name=self.options.graph_node,
            ),
            extension_configuration=self.options.extension_configuration,
            media_descriptor=self.options.format.descriptor(self.options.timescale),
        )
        if ring is not None:
            descriptor.shared_memory_buffer_transfer_properties.handle_name = ring.name
            descriptor.shared_memory_buffer_transfer_properties.length_bytes = ring.size
        return Message(sequence_number=1, media_stream_descriptor=descriptor)

    async def stream(
        self, frames: Iterable[SendableFrame] | AsyncIterable[SendableFrame]
    ) -> AsyncIterator[FrameResult]:
        """Send every frame and yield each acknowledged one, as acks arrive."""
        self.summary = StreamSummary()
        tracker = Tracker(self.summary)
        ring = self._ring()
        try:
            async with self._channel() as channel:
                stub = extension_pb2_grpc.MediaGraphExtensionStub(channel)
                call = stub.ProcessMediaStream(metadata=self.options.metadata or None)
                try:
                    async for result in self._converse(call, frames, tracker, ring):
                        yield result
                except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
                    # A failed write or read may carry a transport-level code (for
                    # example INTERNAL when the server refused the call while we
                    # wrote); the call's final status says why it really ended.
                    raise ExtensionCallError(
                        await call.code(), await call.details() or ""
                    ) from None
                finally:
                    call.cancel()
        finally:
            self.summary.finished = time.monotonic()
            if ring is not None:
                ring.close()

    async def _converse(
        self,
        call: grpc.aio.StreamStreamCall,
        frames: Iterable[SendableFrame] | AsyncIterable[SendableFrame],
        tracker: Tracker,
        ring: SharedMemoryRing | None,
    ) -> AsyncIterator[FrameResult]:
        await call.write(self._descriptor(ring))
        reply = cast(Message, await call.read())
        if reply is grpc.aio.EOF:
            await _raise_status(call)
        tracker.check_sequence(reply)
        if (
            reply.WhichOneof("payload") != "media_stream_descriptor"
            or reply.ack_sequence_number != 1
        ):
            tracker.summary.violations.append(
                "the server's first message must be a descriptor acknowledging message 1"
            )
        window = asyncio.Semaphore(self.options.window)
        sender = asyncio.create_task(self._send(call, frames, tracker, ring, window))
        # If the frames cannot be read or sent, stop waiting for answers.
        sender.add_done_callback(lambda task: _failed(task) and call.cancel())
        try:
            while True:
                try:
                    message = cast(Message, await call.read())
                except (asyncio.CancelledError, grpc.aio.AioRpcError):
                    if _failed(sender):
                        raise sender.exception() from None  # type: ignore[misc]
                    raise
                if message is grpc.aio.EOF:
                    break
                answered = tracker.answer(message)
                if answered is None:
                    continue
                result, sent = answered
                if ring is not None and sent.region is not None:
                    await ring.release(sent.region)
                window.release()
                yield result
            if not sender.done():
                sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            if sender.done() and not sender.cancelled() and sender.exception():
                raise sender.exception()  # type: ignore[misc]
            await _raise_status(call)
            if tracker.pending:
                unanswered = sorted(tracker.pending)
                tracker.summary.violations.append(
                    f"{len(unanswered)} sample(s) never acknowledged: {unanswered[:10]}"
                )
        finally:
            if not sender.done():
                sender.cancel()
                await asyncio.gather(sender, return_exceptions=True)

    async def _send(
        self,
        call: grpc.aio.StreamStreamCall,
        frames: Iterable[SendableFrame] | AsyncIterable[SendableFrame],
        tracker: Tracker,
        ring: SharedMemoryRing | None,
        window: asyncio.Semaphore,
    ) -> None:
        sequence = 1
        started = time.monotonic()
        index = 0
        async for frame in _aiter(frames):
            if self.options.fps:
                delay = started + index / self.options.fps - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            timestamp = round(index * self.options.timescale / self.options.nominal_fps)
            if isinstance(frame, TimedFrame):
                timestamp, frame = frame
            data = await self._encode(frame)
            await window.acquire()
            sequence += 1
            sample = extension_pb2.MediaSample(timestamp=timestamp)
            region = None
            if ring is not None:
                region = await ring.put(data)
                sample.content_reference.address_offset = region
                sample.content_reference.length_bytes = len(data)
            else:
                sample.content_bytes.bytes = data
            tracker.pending[sequence] = SentSample(timestamp, time.monotonic(), region)
            await call.write(Message(sequence_number=sequence, media_sample=sample))
            tracker.summary.frames_sent += 1
            index += 1
        await call.done_writing()

    async def _encode(self, frame: np.ndarray | bytes) -> bytes:
        if isinstance(frame, bytes):
            return frame
        image = resize(frame, self._format.width, self._format.height)
        if self._format.encoding in ENCODED_FORMATS:
            return await asyncio.to_thread(encode, image, self._format)
        return encode(image, self._format)


def _failed(task: asyncio.Task[None]) -> bool:
    return task.done() and not task.cancelled() and task.exception() is not None


async def _aiter(
    frames: Iterable[SendableFrame] | AsyncIterable[SendableFrame],
) -> AsyncIterator[SendableFrame]:
    if isinstance(frames, AsyncIterable):
        async for frame in frames:
            yield frame
    else:
        for frame in frames:
            yield frame


async def _raise_status(call: grpc.aio.StreamStreamCall) -> None:
    code = await call.code()
    if code != grpc.StatusCode.OK:
        raise ExtensionCallError(code, await call.details() or "")
