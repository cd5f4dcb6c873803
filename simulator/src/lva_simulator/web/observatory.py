"""The web view's side of the observer seam: what the graphs published, kept for the pages.

:class:`Observatory` is the :class:`~lva_simulator.observer.GraphObserver` the
simulator hands its graphs. Per graph instance it keeps the latest analyzed
frame of each node, a bounded log of published events, the recent inference
results (for recordings' timelines) and where to get node counters; beside
that, the recordings the sinks wrote. Each call from the graph is a few
assignments: frames are passed on to viewers as references, and encoded
for the browser only when a viewer takes them.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from lva_extension.proto.inferencing_pb2 import Inference

from ..observer import AnalyzedFrame, NodeSnapshot, Recording, SnapshotSource
from .pictures import inference_json
from .viewer import Viewer

EVENTS_KEPT = 2000  # per instance, for the event log
RESULTS_KEPT = 36_000  # per instance: 20 minutes at 30 results a second, for recordings
RATE_SECONDS = 0.5  # shortest span an fps figure is measured over
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
        self.events: deque[LoggedEvent] = deque(maxlen=EVENTS_KEPT)
        self.event_count = 0
        self.results: deque[tuple[int, str, Sequence[Inference]]] = deque(maxlen=RESULTS_KEPT)
        self.viewers: set[Viewer] = set()
        self._stats: SnapshotSource | None = None
        self._final: list[NodeSnapshot] = []
        self._rates: dict[str, tuple[float, int, float]] = {}  # node: (when, frames_out, fps)
        self._sized: dict[str, tuple[AnalyzedFrame, str]] = {}  # node: its latest frame's event

    # --- from the graph ---

    def started(self, topology: str, stats: SnapshotSource) -> None:
        self.topology, self.running, self._stats = topology, True, stats
        self._final, self._rates = [], {}
        self.wake_viewers()

    def stopped(self) -> None:
        if self._stats is not None:
            self._final = list(self._stats())
        self.running, self._stats = False, None
        self.wake_viewers()

    def frame(self, frame: AnalyzedFrame) -> None:
        self.latest[frame.node] = frame
        if frame.inferences:
            self.results.append((frame.timestamp, frame.node, frame.inferences))
        for viewer in self.viewers:
            viewer.offer(frame)

    def event(self, message: Mapping[str, Any]) -> None:
        self.event_count += 1
        self.events.append(logged(self.event_count, message))
        self.wake_viewers()

    def wake_viewers(self) -> None:
        for viewer in self.viewers:
            viewer.wake.set()

    # --- for the pages ---

    def nodes(self) -> list[dict[str, Any]]:
        """Each node's counters, with its output rate in frames per second."""
        snapshots = list(self._stats()) if self._stats is not None else self._final
        now = time.monotonic()
        out = []
        for snapshot in snapshots:
            when, frames, fps = self._rates.get(snapshot.node, (now, snapshot.frames_out, 0.0))
            if not self.running:
                fps = 0.0
            elif now - when >= RATE_SECONDS:
                fps = (snapshot.frames_out - frames) / (now - when)
                when, frames = now, snapshot.frames_out
            self._rates[snapshot.node] = (when, frames, fps)
            out.append({**asdict(snapshot), "fps": round(fps, 1)})
        return out

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

    def results_between(self, start: int, end: int | None) -> list[dict[str, Any]]:
        return [
            {
                "timestamp": timestamp,
                "offset": (timestamp - start) / 90_000,
                "node": node,
                "inferences": inference_json(inferences),
            }
            for timestamp, node, inferences in self.results
            if start <= timestamp and (end is None or timestamp <= end)
        ]


class Observatory:
    """The observer the graphs publish into, and what the web view reads."""

    def __init__(self) -> None:
        self.instances: dict[str, InstanceView] = {}
        self.recordings: dict[str, Recording] = {}
        self._recording_ids: dict[str, str] = {}  # path: id
        self.closing = asyncio.Event()

    def instance(self, name: str) -> InstanceView:
        view = self.instances.get(name)
        if view is None:
            view = self.instances[name] = InstanceView(name)
        return view

    # --- GraphObserver ---

    def instance_started(self, instance: str, topology: str, stats: SnapshotSource) -> None:
        self.instance(instance).started(topology, stats)

    def instance_stopped(self, instance: str) -> None:
        self.instance(instance).stopped()

    def frame_analyzed(self, frame: AnalyzedFrame) -> None:
        self.instance(frame.instance).frame(frame)

    def event_published(self, instance: str, message: Mapping[str, Any]) -> None:
        self.instance(instance).event(message)

    def recording_written(self, recording: Recording) -> None:
        # The same file again (a sink that grew it): one entry, updated.
        key = str(recording.path)
        number = self._recording_ids.setdefault(key, str(len(self._recording_ids) + 1))
        self.recordings[number] = recording

    # --- the web view's life ---

    def close(self) -> None:
        """End every viewer's stream (the web view stops)."""
        self.closing.set()
        for view in self.instances.values():
            view.wake_viewers()
