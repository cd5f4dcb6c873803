"""The recordings as the pages list them: one entry per MP4 file, named by a stable key.

The list is the simulator's ``RecordingLog`` (this run's recordings, and what
the sinks of the stored instances left on disk before it started); each
file's inference events come from the shelf.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..graph.recordings import RecordedFile, Recording
from .shelf import Shelf, Timeline, file_key

RecordingList = Callable[[], list[Recording]]


@dataclass(frozen=True)
class Entry:
    key: str
    recording: Recording
    file: RecordedFile
    number: int  # 1, 2, ... within its recording (an asset's segments)

    @property
    def name(self) -> str:
        name = self.recording.location
        if len(self.recording.files) > 1 or self.recording.output_type == "assetName":
            name += f" / {self.file.path.name}"
        return name

    @property
    def state(self) -> str:
        """What a player can do with it: ``playable``, ``recording`` or ``deleted``."""
        if not self.file.path.is_file():
            return "deleted"  # by the sink's size limit, or by hand
        if self.file.complete or self.recording.restored:
            return "playable"
        return "recording"

    def summary(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "instance": self.recording.instance,
            "sink": self.recording.sink,
            "state": self.state,
        }


class Catalogue:
    def __init__(self, recordings: RecordingList, shelf: Shelf) -> None:
        self.recordings = recordings
        self.shelf = shelf

    def entries(self, instance: str | None = None) -> list[Entry]:
        """Newest recording first; a recording's files in order."""
        found = []
        for recording in reversed(self.recordings()):
            if instance is not None and recording.instance != instance:
                continue
            for number, file in enumerate(recording.files, 1):
                found.append(Entry(file_key(file.path), recording, file, number))
        return found

    def find(self, key: str) -> Entry | None:
        return next((e for e in self.entries() if e.key == key), None)

    def timeline(self, entry: Entry) -> Timeline | None:
        return self.shelf.get(entry.file.path)
