"""The inference events of each recorded file, kept on disk beside the simulator's state.

A recording's page draws the inference events of its interval over the video.
Media times start again with every run of an instance, so they are taken
when a file is finished, while its run's events are at hand, and kept as
one small JSON file per MP4 (``STATE_DIR/web/timelines/<key>.json``, the key
a hash of the MP4's path): a restarted simulator still shows them. Entries
whose MP4 is gone are deleted at start.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TIMESCALE = 90_000
# An inference event: (timestamp on the 90 kHz clock, node, its inferences as JSON).
Result = tuple[int, str, list[Any]]


def file_key(path: Path) -> str:
    """A recorded file's name in URLs and on the shelf: the same across restarts."""
    return hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Timeline:
    media_start: int  # 90 kHz: the file's time 0 on its run's media clock
    media_end: int
    results: list[dict[str, Any]]  # {timestamp, offset (seconds into the file), node, inferences}


class Shelf:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, recorded: Path) -> Path:
        return self.folder / f"{file_key(recorded)}.json"

    def put(self, recorded: Path, start: int, end: int, results: Sequence[Result]) -> None:
        document = {
            "path": str(recorded),
            "media_start": start,
            "media_end": end,
            "results": [
                {
                    "timestamp": timestamp,
                    "offset": (timestamp - start) / TIMESCALE,
                    "node": node,
                    "inferences": inferences,
                }
                for timestamp, node, inferences in results
            ],
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self._path(recorded)
        partial = target.with_suffix(".tmp")
        partial.write_text(json.dumps(document, separators=(",", ":")))
        partial.replace(target)

    def get(self, recorded: Path) -> Timeline | None:
        try:
            document = json.loads(self._path(recorded).read_text())
            return Timeline(document["media_start"], document["media_end"], document["results"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("web view: unreadable timeline for %s: %s", recorded, error)
            return None

    def tidy(self) -> None:
        """Delete the entries of MP4 files that are gone."""
        if not self.folder.is_dir():
            return
        for entry in self.folder.glob("*.json"):
            try:
                recorded = Path(json.loads(entry.read_text())["path"])
            except (OSError, ValueError, KeyError, TypeError):
                recorded = None
            if recorded is None or not recorded.exists():
                entry.unlink(missing_ok=True)
        for partial in self.folder.glob("*.tmp"):  # a write that a crash cut short
            partial.unlink(missing_ok=True)
