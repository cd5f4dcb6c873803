"""The live stream of one instance page: server-sent events.

Events: ``frame`` (a JPEG and its inferences, per node), ``log`` (the events
published since the last one, at most four times a second: a graph running
flat out publishes more than a page can lay out one by one), ``stats`` (node
counters and this view's own, every second). Frames
go out at the rate they come (the camera's, at most MAX_FPS a second: more is
more than a screen shows), or at most ``fps`` a second when the page asks for
a cap; whatever the browser does not take in time is skipped (see viewer.py),
so the graph never waits for a page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web

from .observatory import InstanceView, Observatory
from .pictures import frame_event
from .viewer import Viewer

log = logging.getLogger(__name__)

STATS_SECONDS = 1.0
LOG_SECONDS = 0.25
BACKLOG_EVENTS = 200  # log lines a new page starts with
MAX_FPS = 60.0


def fps_cap(text: str | None) -> float | None:
    """The ``fps`` query value: None (no cap) or a rate from 0.1 to MAX_FPS."""
    if text in (None, "", "0"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise web.HTTPBadRequest(text=f"fps: expected a number, got {text!r}") from None
    if not 0.1 <= value <= MAX_FPS:
        raise web.HTTPBadRequest(text=f"fps: expected 0.1 to {MAX_FPS:g}, got {text}")
    return value


def _event(name: str, data: str) -> bytes:
    return f"event: {name}\ndata: {data}\n\n".encode()


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class LiveStream:
    def __init__(
        self,
        observatory: Observatory,
        view: InstanceView,
        cap: float | None,
        recordings: Callable[[], list[dict[str, Any]]],
    ) -> None:
        self.observatory = observatory
        self.view = view
        self.recordings = recordings
        self.interval = 1 / (cap or MAX_FPS)
        self.viewer = Viewer()
        self.response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
        )
        self._event_number = max(0, view.event_count - BACKLOG_EVENTS)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        view, viewer = self.view, self.viewer
        view.viewers.add(viewer)
        for frame in view.latest.values():  # the page starts with a picture, if there is one
            viewer.offer(frame)
        loop = asyncio.get_running_loop()
        next_stats = next_frame = next_log = loop.time()
        try:
            await self.response.prepare(request)
            while not self.observatory.closing.is_set():
                viewer.wake.clear()
                now = loop.time()
                if now >= next_log and view.event_count > self._event_number:
                    await self._send_events()
                    next_log = now + LOG_SECONDS
                if viewer.pending and now >= next_frame:
                    await self._send_frames()
                    next_frame = now + self.interval
                if now >= next_stats:
                    await self._send_stats()
                    next_stats = now + STATS_SECONDS
                deadline = next_stats
                if viewer.pending:
                    deadline = min(deadline, next_frame)
                if view.event_count > self._event_number:
                    deadline = min(deadline, next_log)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(viewer.wake.wait(), max(0.0, deadline - loop.time()))
        except ConnectionError:
            pass  # the page went away (reset, or lost while we waited to write)
        finally:
            view.viewers.discard(viewer)
        return self.response

    async def _send_events(self) -> None:
        events = self.view.events_after(self._event_number)
        self._event_number = self.view.event_count
        if events:
            await self.response.write(_event("log", _dumps([asdict(e) for e in events])))

    async def _send_frames(self) -> None:
        for frame in self.viewer.take():
            data = self.view.cached_event(frame)
            if data is None:
                try:
                    data = await asyncio.to_thread(frame_event, frame)
                except Exception as error:  # a frame the view cannot show: skip it, say so
                    log.warning("web view, %s/%s: %s", frame.instance, frame.node, error)
                    continue
                self.view.cache_event(frame, data)
            await self.response.write(_event("frame", data))

    async def _send_stats(self) -> None:
        stats = {
            "running": self.view.running,
            "topology": self.view.topology,
            "nodes": [asdict(s) for s in self.view.stats],
            "recordings": self.recordings(),
            "view": {"shown": self.viewer.shown, "skipped": self.viewer.skipped},
        }
        await self.response.write(_event("stats", _dumps(stats)))
