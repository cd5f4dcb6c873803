"""Video for an RTSP source node, decoded with PyAV.

``rtsp://`` URLs are read live (reconnecting after a drop, as LVA does); local
files (a path or a ``file://`` URL) are played at their own frame rate and
looped, as the rtspsim module serves them, unless the simulator is told to
play them once or as fast as the graph takes them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import numpy as np

from ..plan import SourceSpec

log = logging.getLogger(__name__)

RECONNECT_DELAYS = (1.0, 2.0, 5.0, 10.0)
_OPEN_TIMEOUT_US = "5000000"


@dataclass(frozen=True)
class VideoFrame:
    pts: Fraction  # seconds from the start of the stream (keeps growing across loops)
    rgb: np.ndarray  # (height, width, 3) uint8


@dataclass(frozen=True)
class Playback:
    loop: bool = True  # local files start again at their end
    realtime: bool = True  # local files are played at their frame rate


def local_path(url: str) -> Path | None:
    """The file a source URL names, or None for a network URL."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return Path(unquote(parts.netloc + parts.path))
    if parts.scheme in ("rtsp", "rtsps"):
        return None
    return Path(url)


def _with_credentials(url: str, username: str, password: str) -> str:
    parts = urlsplit(url)
    if not username or "@" in parts.netloc:
        return url
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{parts.netloc}"
    return urlunsplit(parts._replace(netloc=netloc))


def _decode(target: str, options: dict[str, str], offset: Fraction) -> Iterator[VideoFrame]:
    import av

    with av.open(target, options=options) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        first: Fraction | None = None
        for index, frame in enumerate(container.decode(stream)):
            if frame.pts is not None and frame.time_base is not None:
                pts = Fraction(frame.pts) * Fraction(frame.time_base)
            else:
                pts = Fraction(index) / Fraction(rate)
            first = pts if first is None else first
            yield VideoFrame(offset + pts - first, frame.to_ndarray(format="rgb24"))


class _ThreadedIterator:
    """Pull items of a blocking iterator on a worker thread, one at a time."""

    def __init__(self, iterator: Iterator[VideoFrame]) -> None:
        self._iterator = iterator
        self._pending: asyncio.Future[Any] | None = None

    async def next(self) -> VideoFrame | None:
        self._pending = asyncio.ensure_future(asyncio.to_thread(next, self._iterator, None))
        result: VideoFrame | None = await asyncio.shield(self._pending)
        self._pending = None
        return result

    async def aclose(self) -> None:
        if self._pending is not None:  # a cancelled next() still holds the iterator
            await asyncio.gather(self._pending, return_exceptions=True)
        close = getattr(self._iterator, "close", None)
        if close is not None:
            await asyncio.to_thread(close)


class VideoSource:
    """The frames of one source node, as an async iterator."""

    def __init__(self, spec: SourceSpec, playback: Playback) -> None:
        self.spec = spec
        self.playback = playback
        self.path = local_path(spec.url)

    def check(self) -> str | None:
        """Why the source cannot start (a missing file), or None."""
        if self.path is not None and not self.path.is_file():
            return f"source {self.spec.name!r}: no such video file: {self.path}"
        return None

    async def frames(self) -> AsyncIterator[VideoFrame]:
        if self.path is not None:
            async for frame in self._file():
                yield frame
        else:
            async for frame in self._rtsp():
                yield frame

    async def _file(self) -> AsyncIterator[VideoFrame]:
        offset = Fraction(0)
        started = time.monotonic()
        while True:
            last: Fraction | None = None
            step = Fraction(1, 30)
            reader = _ThreadedIterator(_decode(str(self.path), {}, offset))
            try:
                while (frame := await reader.next()) is not None:
                    if last is not None:
                        step = frame.pts - last
                    last = frame.pts
                    if self.playback.realtime:
                        delay = started + float(frame.pts) - time.monotonic()
                        if delay > 0:
                            await asyncio.sleep(delay)
                    yield frame
            finally:
                await reader.aclose()
            if last is None:
                raise RuntimeError(f"{self.path}: no video frames")
            if not self.playback.loop:
                return
            offset = last + step

    async def _rtsp(self) -> AsyncIterator[VideoFrame]:
        target = _with_credentials(self.spec.url, self.spec.username, self.spec.password)
        options = {"rtsp_transport": self.spec.transport, "timeout": _OPEN_TIMEOUT_US}
        offset = Fraction(0)
        failures = 0
        while True:
            reader = _ThreadedIterator(_decode(target, options, offset))
            last: Fraction | None = None
            try:
                while (frame := await reader.next()) is not None:
                    failures, last = 0, frame.pts
                    yield frame
                problem = "the stream ended"
            except Exception as error:  # PyAV raises many kinds; a live source retries them all
                problem = str(error)
            finally:
                await reader.aclose()
            delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
            failures += 1
            log.warning(
                "source %s (%s): %s; reconnecting in %.0f s",
                self.spec.name,
                self.spec.url,
                problem,
                delay,
            )
            offset = last if last is not None else offset
            await asyncio.sleep(delay)
