"""One session with a camera (or one pass over a file), read with PyAV on a worker thread.

The packets, exactly as the camera sent them (a frame's slices joined, the
parameter sets sent without a timestamp put in front of the next frame), and
if asked the decoded pictures, all on the media clock: the session's offset
plus the stream's own timestamps. Opening an RTSP URL captures the SDP FFmpeg
logs ("SDP:\n..."), which is what LVA published. A failure to open or read is
classified as the diagnostic LVA publishes (``Failure``).
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .media import Item, Packet, Picture, Session

log = logging.getLogger(__name__)
T = TypeVar("T")


class Failure(Exception):
    """Why a session could not start or ended: a diagnostic event LVA would publish."""

    def __init__(self, kind: str, body: dict[str, str]) -> None:
        super().__init__(body.get("message", kind))
        self.kind = kind
        self.body = body


def classify(error: BaseException) -> Failure:
    import av

    text = str(error).split(": '", 1)[0]
    if isinstance(error, Failure):
        return error
    if isinstance(error, av.HTTPUnauthorizedError):
        message = "the camera refused the credentials (401 Unauthorized)"
        return Failure(
            "ProtocolError", {"protocol": "rtsp", "errorCode": "401", "message": message}
        )
    if isinstance(error, av.HTTPClientError | av.HTTPServerError):
        code = text.split("Server returned ", 1)[-1].split(" ", 1)[0]
        return Failure("ProtocolError", {"protocol": "rtsp", "errorCode": code, "message": text})
    if isinstance(error, ConnectionRefusedError):
        return Failure("NetworkError", {"errorCode": "ConnectionRefused", "message": text})
    if isinstance(error, TimeoutError) or "timed out" in text.lower():
        return Failure("NetworkError", {"errorCode": "Timeout", "message": text})
    if isinstance(error, OSError):
        return Failure("NetworkError", {"errorCode": "ConnectionFailed", "message": text})
    return Failure("MediaFormatError", {"code": type(error).__name__, "message": text})


@functools.cache
def _hear_ffmpeg() -> None:
    """Let FFmpeg's verbose lines reach PyAV's log capture (the SDP is one), but not the log."""
    import av.logging

    av.logging.set_level(av.logging.VERBOSE)
    logging.getLogger("libav").setLevel(logging.WARNING)


def _check_host(url: str) -> None:
    host = urlsplit(url).hostname
    if not host:
        return
    try:
        socket.getaddrinfo(host, None)
    except socket.gaierror:
        hint = (
            " (start the simulator with --camera-media or --rtspsim)" if host == "rtspsim" else ""
        )
        raise Failure(
            "NetworkError",
            {
                "errorCode": "HostNotFound",
                "message": f"the camera's host {host!r} is unknown{hint}",
            },
        ) from None


@dataclass
class _Held:
    """A frame's packet, waiting in case more slices of it follow."""

    pts: int
    dts: int | None
    data: bytes
    keyframe: bool


class SessionReader:
    """One session with the camera (or one pass over a file), read on a worker thread."""

    def __init__(
        self, target: str, options: dict[str, str], number: int, offset: Fraction, pictures: bool
    ) -> None:
        self.target = target
        self.options = options
        self.number = number
        self.offset = offset
        self.pictures = pictures
        self.end = offset  # media time after the last packet
        self._container: Any = None
        self._iterator: Iterator[list[Item]] | None = None
        self._pending: asyncio.Future[Any] | None = None

    def open(self) -> Session:
        import av
        import av.logging

        network = self.target.lower().startswith("rtsp")
        if network:
            _check_host(self.target)
            _hear_ffmpeg()
        # FFmpeg logs the SDP it was sent ("SDP:\n..."), which is what LVA published.
        with av.logging.Capture() as logs:
            self._container = av.open(self.target, options=self.options, timeout=5.0)
        sdp = next((text for _, _, text in logs if text.startswith("SDP:")), "")
        stream = self._container.streams.video[0]
        holder = av.open(io.BytesIO(), mode="w", format="matroska")
        template = holder.add_stream_from_template(stream)
        context = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        self._step = 1 / Fraction(rate)
        session = Session(
            self.number,
            context.name,
            context.width,
            context.height,
            Fraction(stream.time_base),
            template,
            sdp,
            bytes(context.extradata or b""),
        )
        self._iterator = self._items(stream, session)
        return session

    def _items(self, stream: Any, session: Session) -> Iterator[list[Item]]:
        import av

        first: int | None = None
        base = session.time_base
        pending = b""  # parameter sets sent without a timestamp go with the next frame
        held: _Held | None = None
        decoder = stream.codec_context if self.pictures else None

        def media_time(ticks: int) -> Fraction:
            assert first is not None
            return self.offset + (ticks - first) * base

        def pictures(packet: Any) -> list[Item]:
            if decoder is None:
                return []
            found: list[Item] = []
            for frame in decoder.decode(packet):
                if frame.pts is not None:
                    found.append(Picture(media_time(frame.pts), frame.to_ndarray(format="rgb24")))
            return found

        def release(held: _Held) -> list[Item]:
            at = media_time(held.pts)
            decoded = None if held.dts is None else media_time(held.dts)
            self.end = max(self.end, at + self._step)
            packet = av.Packet(held.data)
            packet.pts, packet.dts, packet.time_base = held.pts, held.dts, base
            return [Packet(at, held.data, held.keyframe, session, decoded), *pictures(packet)]

        for packet in self._container.demux(stream):
            if packet.size == 0:
                continue
            data = bytes(packet)
            if packet.pts is None:
                pending += data
                continue
            if first is None:
                first = packet.pts
            # A frame may come as several packets (slices) with one timestamp: join them.
            if held is not None and held.pts == packet.pts:
                held.data += data
                held.keyframe = held.keyframe or packet.is_keyframe
                continue
            if held is not None:
                yield release(held)
            held = _Held(packet.pts, packet.dts, pending + data, packet.is_keyframe)
            pending = b""
        if held is not None:
            yield release(held)
        if first is not None:
            yield pictures(None)  # the frames the decoder still holds

    def next(self) -> list[Item] | None:
        assert self._iterator is not None
        return next(self._iterator, None)

    async def call(self, work: Callable[[], T]) -> T:
        """Run blocking work on a thread; if cancelled, the work still finishes there."""
        self._pending = asyncio.ensure_future(asyncio.to_thread(work))
        return await asyncio.shield(self._pending)

    async def aclose(self) -> None:
        # Never close the container under a thread that is still reading it.
        if self._pending is not None:
            await asyncio.gather(self._pending, return_exceptions=True)
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
