"""What asset and file sinks share: recordings of remuxed MP4 files, and their events.

A recording begins when a gate opens (or, for a sink fed straight by the
camera, with the first packet) and ends when the gate closes or the instance
stops. Inside it, packets are written to MP4 files without re-encoding; a new
file starts when the camera comes back with other codec parameters after a
reconnect, or when the sink asks for one (an asset sink's ``segmentLength``),
always at a keyframe.

Events (``outputType``/``outputLocation`` bodies, as LVA publishes them):
``RecordingStarted`` once the first packet is written; ``RecordingAvailable``
once the first file is complete (an MP4 plays only when closed: at the first
cut, or after ``RecordingStopped`` for a recording shorter than that);
``RecordingStopped`` when it ends. A folder that cannot be written publishes a
``StorageError`` diagnostic and ends the instance.

After each file the sink keeps its files within its size limit, deleting its
oldest files first, never its newest (the one just made, or being made).
Each finished file is told to the observer (``recording_written``) with the
media times it covers.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from ..times import now_iso
from .media import PACKETS, Item, Mark, Packet
from .node import Node, NodeContext
from .recordings import Mp4File, RecordedFile, Recording, within_limit

log = logging.getLogger(__name__)

SYSTEM_VARIABLE = re.compile(r"\$\{System\.([A-Za-z]+)\}", re.IGNORECASE)


def expand(pattern: str, topology: str, instance: str, when: datetime) -> str:
    """A name pattern with LVA's system variables filled in."""
    values = {
        "datetime": when.strftime("%Y%m%dT%H%M%SZ"),
        "precisedatetime": when.strftime("%Y%m%dT%H%M%S.") + f"{when.microsecond // 1000:03d}Z",
        "graphtopologyname": topology,
        "graphinstancename": instance,
    }
    return SYSTEM_VARIABLE.sub(lambda m: values.get(m.group(1).lower(), m.group(0)), pattern)


def wildcard(pattern: str) -> str:
    """The pattern as a glob that matches every name it can expand to."""
    return SYSTEM_VARIABLE.sub("*", pattern)


class Recorder(Node):
    wants = frozenset({PACKETS})
    output_type: Literal["assetName", "filePath"] = "filePath"

    def __init__(self, context: NodeContext, limit_bytes: int) -> None:
        super().__init__(context)
        self.limit_bytes = limit_bytes
        self.gated = False  # the runner says whether a gate bounds the recordings
        self.recording: Recording | None = None
        self.file: Mp4File | None = None
        self.written: RecordedFile | None = None  # the list entry of ``file``
        self.failed = False
        self._started = self._available = False

    # --- what each sink decides ---

    def begin(self, when: datetime) -> tuple[str, Path]:
        """A new recording: what LVA reports as its location, and where it goes on disk."""
        raise NotImplementedError

    def next_file(self, recording: Recording) -> Path:
        raise NotImplementedError

    def cut_due(self, file: Mp4File, packet: Packet) -> bool:
        """Whether a new file should start at this keyframe (asset segments)."""
        return False

    def own_files(self) -> list[Path]:
        """Every file of this sink on disk, oldest first (for the size limit)."""
        raise NotImplementedError

    def on_disk(self) -> list[Recording]:
        """The recordings this sink's files on disk make (at start: what earlier runs left)."""
        raise NotImplementedError

    # --- the recording ---

    async def receive(self, item: Item, sender: str) -> None:
        if self.failed:
            return
        if isinstance(item, Mark):
            if item.kind == "open":
                self._begin()
            elif item.kind == "close":
                self._end()
            return
        if not isinstance(item, Packet):
            return
        self.context.counters.frames_in += 1
        if self.recording is None:
            if self.gated:
                return
            self._begin()
        try:
            self._write(item)
        except OSError as error:
            self._storage_failed(error)

    def _begin(self) -> None:
        if self.recording is not None:
            self._end()
        location, path = self.begin(datetime.now(UTC))
        context = self.context
        self.recording = context.recordings.add(
            Recording(context.instance, context.name, self.output_type, location, path)
        )
        self._started = self._available = False
        context.counters.state = "recording"

    def _write(self, packet: Packet) -> None:
        assert self.recording is not None
        file = self.file
        if file is not None and (
            not file.accepts(packet)  # new codec parameters after a reconnect: a new file
            or (packet.keyframe and file.started and self.cut_due(file, packet))
        ):
            self._close_file()
            file = None
        if file is None:
            file = self.file = Mp4File(self.next_file(self.recording))
        if not file.write(packet):
            return
        self.context.counters.passed()
        if file.packets == 1:
            self.written = RecordedFile(file.path, file.first)
            self.recording.files.append(self.written)
        if not self._started:
            self._started = True
            self._event("RecordingStarted")

    def _close_file(self) -> None:
        """A cut inside a recording: the finished file is playable."""
        file, self.file = self.file, None
        if file is not None and file.close():
            self._finished(file)
            if not self._available:
                self._available = True
                self._event("RecordingAvailable")
        self._keep_within_limit()

    def _finished(self, file: Mp4File) -> None:
        written, self.written = self.written, None
        if written is None or self.recording is None:
            return
        written.media_end = file.last
        self.context.observer.recording_written(self.recording, written)

    def _end(self) -> None:
        recording = self.recording
        if recording is None:
            return
        file, self.file = self.file, None
        try:
            if file is not None and file.close():
                self._finished(file)
        except OSError as error:
            self._storage_failed(error)
        recording.stopped = now_iso()
        self.context.counters.state = "idle"
        if self._started:
            self._event("RecordingStopped")
            if not self._available:
                self._available = True
                self._event("RecordingAvailable")
        self.recording = None
        self._keep_within_limit()

    def _keep_within_limit(self) -> None:
        deleted = within_limit(self.own_files(), self.limit_bytes)
        if deleted:
            log.info(
                "%s/%s: over its size limit, deleted %s",
                self.context.instance,
                self.name,
                ", ".join(str(p) for p in deleted),
            )

    def _event(self, kind: str) -> None:
        recording = self.recording
        assert recording is not None
        body = {"outputType": self.output_type, "outputLocation": recording.location}
        self.context.module_event("Operational", kind, body)

    def _storage_failed(self, error: OSError) -> None:
        self.failed = True
        location = self.recording.location if self.recording else ""
        message = f"cannot write the recording {location}: {error.strerror or error}"
        self.context.counters.error(message)
        body = {"errorCode": type(error).__name__, "outputLocation": location, "message": message}
        self.context.module_event("Diagnostics", "StorageError", body)
        self.context.fail(message)

    async def flush(self) -> None:
        self._end()

    async def close(self) -> None:
        self._end()
