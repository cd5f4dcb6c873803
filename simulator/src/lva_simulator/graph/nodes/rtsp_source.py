"""MediaGraphRtspSource: the camera's video, as packets (for sinks) and pictures.

``rtsp://`` URLs are read live with PyAV (FFmpeg), over TCP or tunnelled in
HTTP (``transport``), with the endpoint's credentials. Each connection is a
session: it publishes ``MediaSessionEstablished`` with the SDP the camera sent;
when the camera ends the stream (rtspsim does at the end of its file) or the
connection drops, the source publishes a diagnostic and connects again, at
once after a clean end, then after 1, 2, 5, 10 s. The host name ``rtspsim``
stands for the simulator's own camera (``serve --camera-media`` or
``--rtspsim``), so the samples' URLs work unchanged.

A local path or ``file://`` URL (a simulator extra) is played at its frame
rate and looped, unless the simulator plays files once or as fast as the
graph takes them. Media time keeps growing across reconnects and loops.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from ..endpoints import Endpoint, read_endpoint
from ..media import PACKETS, PICTURES, Item, Kind, Packet, Picture, Session
from ..node import Node, NodeContext, RunOptions
from ..properties import Reader

log = logging.getLogger(__name__)
T = TypeVar("T")

RECONNECT_DELAYS = (0.0, 1.0, 2.0, 5.0, 10.0)
_SOCKET_TIMEOUT_US = "5000000"  # a camera silent this long has dropped the connection
_PROBE = {"analyzeduration": "500000", "probesize": "500000"}  # start within half a second


@dataclass(frozen=True)
class RtspSourceSpec:
    endpoint: Endpoint
    transport: str  # tcp or http


def parse(node: Reader) -> RtspSourceSpec:
    endpoint = read_endpoint(node, tls_allowed=False)
    scheme = endpoint.url.split("://", 1)[0].lower() if "://" in endpoint.url else ""
    if scheme not in ("", "rtsp", "file"):
        node.fail(
            "endpoint.url",
            f"Uri scheme '{scheme}' is not valid for an RTSP source endpoint. Valid values are:"
            " rtsp (and, in the simulator, file:// URLs or local paths)",
            "RtspEndpointUrlInvalidScheme",
        )
    transport = node.choice("transport", ("Tcp", "Http"), "Tcp").lower()
    return RtspSourceSpec(endpoint, transport)


def local_path(url: str) -> Path | None:
    """The file a source URL names, or None for a network URL."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return Path(unquote(parts.netloc + parts.path))
    if parts.scheme in ("rtsp", "rtsps"):
        return None
    return Path(url)


def camera_url(url: str, username: str, password: str, options: RunOptions) -> str:
    """The URL to dial: a module's host name (rtspsim) replaced by its address, credentials in."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    if parts.hostname:
        host, port = options.address(parts.hostname, parts.port or 554)
        if (host, port) != (parts.hostname, parts.port or 554):
            netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if username and "@" not in parts.netloc:
        netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{netloc}"
    elif "@" in parts.netloc:
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" + netloc
    return urlunsplit(parts._replace(netloc=netloc))


class Failure(Exception):
    """Why a session could not start or ended: a diagnostic event LVA would publish."""

    def __init__(self, kind: str, body: dict[str, str]) -> None:
        super().__init__(body.get("message", kind))
        self.kind = kind
        self.body = body


def _failure(error: BaseException, url: str) -> Failure:
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


class _Reader:
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


class RtspSource(Node):
    def __init__(self, spec: RtspSourceSpec, context: NodeContext) -> None:
        super().__init__(context)
        self.spec = spec
        self.path = local_path(spec.endpoint.url)
        self.produces: frozenset[Kind] = frozenset({PACKETS, PICTURES})
        self.clock: Fraction | None = None  # media time of the newest item
        self.sessions = 0

    def check(self) -> str | None:
        if self.path is not None and not self.path.is_file():
            return f"source {self.name!r}: no such video file: {self.path}"
        return None

    async def run(self) -> None:
        if self.path is not None:
            await self._play_file(self.path)
        else:
            await self._read_camera()

    async def _play_file(self, path: Path) -> None:
        offset = Fraction(0)
        playback = self.context.options.playback
        started = time.monotonic()
        while True:
            self.sessions += 1
            reader = _Reader(str(path), {}, self.sessions, offset, PICTURES in self.produces)
            try:
                await reader.call(reader.open)
                self.context.counters.state = "playing"
                # Paced from the first pass: loops continue the same clock.
                await self._paced(reader, playback.realtime, started)
            finally:
                await reader.aclose()
            if reader.end == offset:
                raise RuntimeError(f"{path}: no video frames")
            if not playback.loop:
                self.context.counters.state = "ended"
                return
            offset = reader.end

    async def _paced(self, reader: _Reader, pace: bool, started: float) -> None:
        counters = self.context.counters
        while True:
            items = await reader.call(reader.next)
            if items is None:
                return
            counters.frames_in += 1
            for item in items:
                if pace:
                    delay = started + float(item.time) - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                await self._emit(item)

    async def _emit(self, item: Item) -> None:
        self.clock = item.time
        if isinstance(item, Packet) and PACKETS not in self.produces:
            return
        self.context.counters.passed()
        await self.context.emit(item)

    async def _read_camera(self) -> None:
        spec = self.spec
        target = camera_url(
            spec.endpoint.url,
            spec.endpoint.username,
            spec.endpoint.password,
            self.context.options,
        )
        options = {"rtsp_transport": spec.transport, "timeout": _SOCKET_TIMEOUT_US, **_PROBE}
        offset = Fraction(0)
        failures = 0
        reported: str | None = None
        counters = self.context.counters
        while True:
            self.sessions += 1
            reader = _Reader(target, options, self.sessions, offset, PICTURES in self.produces)
            try:
                session = await reader.call(reader.open)
                counters.state = "connected"
                failures, reported = 0, None
                log.info(
                    "%s/%s: session %d with %s (%s %dx%d)",
                    self.context.instance,
                    self.name,
                    session.number,
                    spec.endpoint.url,
                    session.codec,
                    session.width,
                    session.height,
                )
                self.context.module_event(
                    "Diagnostics", "MediaSessionEstablished", {"sdp": session.sdp}
                )
                await self._paced(reader, False, 0.0)
                failure = Failure(
                    "NetworkError",
                    {"errorCode": "StreamEnded", "message": "the camera ended the stream"},
                )
            except Exception as error:  # PyAV raises many kinds; a live source retries them all
                failure = _failure(error, spec.endpoint.url)
            finally:
                await reader.aclose()
            offset = max(offset, reader.end)
            delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
            failures += 1
            counters.state = "reconnecting"
            counters.error(str(failure))
            # One event per kind of trouble, not one per attempt.
            key = f"{failure.kind}:{failure.body.get('errorCode', failure.body.get('code'))}"
            if key != reported:
                self.context.module_event("Diagnostics", failure.kind, failure.body)
                reported = key
            log.warning(
                "%s/%s (%s): %s; reconnecting in %.0f s",
                self.context.instance,
                self.name,
                spec.endpoint.url,
                failure,
                delay,
            )
            await asyncio.sleep(delay)
