"""The web view's side of the observer seam: what the graphs tell it, kept for the pages.

:class:`Observatory` is a :class:`~lva_simulator.graph.observer.GraphObserver`.
Per graph instance it keeps the latest analyzed frame of each node, the
latest node stats, a bounded log of published events and, for the current
run, the inference events by media time; when a sink finishes a recorded
file, the inference events of that file's interval go to the shelf
(shelf.py), where the recording's page finds them, also after a restart.
Each call from the graph is a few assignments: frames are passed on to
viewers as references, and encoded for the browser only when a viewer takes
them.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..graph.media import ticks
from ..graph.observer import AnalyzedFrame, NodeStats
from ..graph.recordings import RecordedFile, Recording
from .shelf import Result, Shelf
from .viewer import Viewer

log = logging.getLogger(__name__)

EVENTS_KEPT = 2000  # per instance, for the event log
RESULTS_KEPT = 36_000  # per run: 20 minutes at 30 inference events a second
SETTLE_SECONDS = 2.0  # a file's last inference events may come just after it is closed
_KINDS = {"Analytics": "inference", "Operational": "operational", "Diagnostics": "diagnostic"}


@dataclass(frozen=True)
class LoggedEvent:
    number: int  # 1, 2, ... per instance
    kind: str  # inference, operational, diagnostic (other for anything else)
    type: str  # the last part of eventType: Inference, RecordingStarted, ...
    subject: str
    time: str
    output: str
    body: Mapping[str, Any]


def instance_of(message: Mapping[str, Any]) -> str | None:
    """The instance a message is about: ``/graphInstances/{instance}/...`` in its subject."""
    subject = str((message.get("applicationProperties") or {}).get("subject", ""))
    parts = subject.split("/")
    return parts[2] if len(parts) > 2 and parts[1] == "graphInstances" else None


def logged(number: int, message: Mapping[str, Any]) -> LoggedEvent:
    properties = message.get("applicationProperties") or {}
    event_type = str(properties.get("eventType", ""))
    parts = event_type.split(".")
    # Microsoft.Media.Graph.{Analytics|Operational|Diagnostics}.{Type}
    kind = _KINDS.get(parts[-2], "other") if len(parts) >= 2 else "other"
    return LoggedEvent(
        number,
        kind,
        parts[-1],
        str(properties.get("subject", "")),
        str(properties.get("eventTime", "")),
        str(message.get("outputName", "")),
        message.get("body") or {},
    )


class InstanceView:
    """What the pages show of one graph instance."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.topology = ""
        self.running = False
        self.latest: dict[str, AnalyzedFrame] = {}
        self.stats: list[NodeStats] = []
        self.events: deque[LoggedEvent] = deque(maxlen=EVENTS_KEPT)
        self.event_count = 0
        # The current run's inference events: (timestamp on the 90 kHz clock, node, inferences).
        self.results: deque[Result] = deque(maxlen=RESULTS_KEPT)
        self.viewers: set[Viewer] = set()
        self._sized: dict[str, tuple[AnalyzedFrame, str]] = {}  # node: its latest frame's event

    # --- from the graph ---

    def started(self, topology: str) -> None:
        # A new run: a new media clock, so new results (a pending snapshot keeps the old).
        self.topology, self.running = topology, True
        self.latest, self.stats, self._sized = {}, [], {}
        self.results = deque(maxlen=RESULTS_KEPT)
        self.wake_viewers()

    def stopped(self) -> None:
        self.running = False
        self.wake_viewers()

    def frame(self, frame: AnalyzedFrame) -> None:
        self.latest[frame.node] = frame
        for viewer in self.viewers:
            viewer.offer(frame)

    def event(self, logged_event: LoggedEvent) -> None:
        self.events.append(logged_event)
        self.event_count = logged_event.number
        body = logged_event.body
        if logged_event.type == "Inference" and isinstance(body.get("timestamp"), int):
            node = logged_event.subject.rsplit("/", 1)[-1]
            self.results.append((body["timestamp"], node, list(body.get("inferences") or [])))
        self.wake_viewers()

    def wake_viewers(self) -> None:
        for viewer in self.viewers:
            viewer.wake.set()

    # --- for the pages ---

    def events_after(self, number: int) -> list[LoggedEvent]:
        """The kept events numbered above ``number``, oldest first."""
        if not self.events or self.events[-1].number <= number:
            return []
        first = self.events[0].number
        return list(self.events)[max(0, number + 1 - first) :]

    def cached_event(self, frame: AnalyzedFrame) -> str | None:
        cached = self._sized.get(frame.node)
        return cached[1] if cached and cached[0] is frame else None

    def cache_event(self, frame: AnalyzedFrame, data: str) -> None:
        self._sized[frame.node] = (frame, data)


class Observatory:
    """The observer the graphs tell, and what the web view reads."""

    def __init__(self, shelf: Shelf) -> None:
        self.shelf = shelf
        self.instances: dict[str, InstanceView] = {}
        self.closing = asyncio.Event()
        # Files finished a moment ago, whose inference events go to the shelf soon.
        self._pending: dict[int, tuple[asyncio.TimerHandle, RecordedFile, Sequence[Result]]] = {}
        self._numbers = itertools.count()

    def instance(self, name: str) -> InstanceView:
        view = self.instances.get(name)
        if view is None:
            view = self.instances[name] = InstanceView(name)
        return view

    # --- GraphObserver ---

    def instance_started(self, instance: str, topology: str) -> None:
        self.instance(instance).started(topology)

    def instance_stopped(self, instance: str) -> None:
        self.instance(instance).stopped()

    def published(self, message: dict[str, Any]) -> None:
        name = instance_of(message)
        if name is not None:
            view = self.instance(name)
            view.event(logged(view.event_count + 1, message))

    def frame_analyzed(self, frame: AnalyzedFrame) -> None:
        self.instance(frame.instance).frame(frame)

    def node_stats(self, stats: Sequence[NodeStats]) -> None:
        if stats:
            self.instance(stats[0].instance).stats = list(stats)

    def recording_written(self, recording: Recording, file: RecordedFile) -> None:
        # Later, so that the answers for the file's last frames are in too; the run's
        # results are taken now (a new run starts a new deque, on a new media clock).
        results = self.instance(recording.instance).results
        number = next(self._numbers)
        handle = asyncio.get_running_loop().call_later(SETTLE_SECONDS, self._snapshot, number)
        self._pending[number] = (handle, file, results)

    def _snapshot(self, number: int) -> None:
        handle, file, results = self._pending.pop(number)
        handle.cancel()
        if file.media_start is None or file.media_end is None:
            return
        start, end = ticks(file.media_start), ticks(file.media_end)
        inside = [r for r in results if start <= r[0] <= end]
        try:
            self.shelf.put(file.path, start, end, inside)
        except OSError as error:
            log.warning("web view: cannot keep the inferences of %s: %s", file.path, error)

    # --- the web view's life ---

    def close(self) -> None:
        """Keep what is pending, end every viewer's stream (the web view stops)."""
        for number in list(self._pending):
            self._snapshot(number)
        self.closing.set()
        for view in self.instances.values():
            view.wake_viewers()
