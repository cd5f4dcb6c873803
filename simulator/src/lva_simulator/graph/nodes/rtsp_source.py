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
import logging
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from ..camera_reader import Failure, SessionReader, classify
from ..endpoints import Endpoint, read_endpoint
from ..media import PACKETS, PICTURES, Item, Kind, Packet
from ..node import Node, NodeContext, RunOptions
from ..properties import Reader

log = logging.getLogger(__name__)

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
            reader = SessionReader(str(path), {}, self.sessions, offset, PICTURES in self.produces)
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

    async def _paced(self, reader: SessionReader, pace: bool, started: float) -> None:
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
            reader = SessionReader(
                target, options, self.sessions, offset, PICTURES in self.produces
            )
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
                failure = classify(error)
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
