"""Recordings on disk: MP4 files remuxed from the camera's packets, and the list of them.

``Mp4File`` writes one MP4 from ``Packet``s without re-encoding (PyAV remux):
it starts at the first keyframe it is given and copies the codec parameters
(SPS/PPS) from the packets' session. Timestamps in the file start at 0.

``RecordingLog`` lists every recording the simulator's sinks have made, for
the user (and a live view): which instance and sink, what LVA reported
(``outputType``, ``outputLocation``), the files with the media times they
cover, and whether it is still being written. At start it also lists what
the sinks of the stored instances left on disk earlier (``restore``): their
files, but not their media times, which only the run that made them knew.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from ..times import iso, now_iso
from .media import Packet, Session

log = logging.getLogger(__name__)


class Mp4File:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.first: Fraction | None = None
        self.last: Fraction | None = None
        self.packets = 0
        self._container: Any = None
        self._stream: Any = None
        self._session: Session | None = None
        self._last_dts = -1

    @property
    def started(self) -> bool:
        return self._container is not None

    def accepts(self, packet: Packet) -> bool:
        """Whether the packet belongs in this file: the same codec parameters.

        A reconnect (or a file's loop) with the same parameters goes on in the same
        file; different ones need a new file.
        """
        session = self._session
        return session is None or packet.session is session or session.same_codec(packet.session)

    def write(self, packet: Packet) -> bool:
        """Add a packet; False while waiting for the first keyframe (the packet is skipped)."""
        import av

        if self._container is None:
            if not packet.keyframe:
                return False
            self.path.parent.mkdir(parents=True, exist_ok=True)
            container = av.open(str(self.path), mode="w", format="mp4")
            try:
                self._stream = container.add_stream_from_template(packet.session.template)
            except Exception:
                container.close()
                raise
            self._container = container
            self._session = packet.session
            # The file's clock starts at the first keyframe's decode time.
            self.first = packet.time if packet.decode_time is None else packet.decode_time
        assert self.first is not None
        time_base = packet.session.time_base
        pts = round((packet.time - self.first) / time_base)
        decode = packet.decode_time if packet.decode_time is not None else packet.time
        dts = round((decode - self.first) / time_base)
        # Decode times must grow; cameras send none (without B-frames they are the pts).
        if dts <= self._last_dts:
            dts = self._last_dts + 1
        pts = max(pts, dts)
        out = av.Packet(packet.data)
        out.pts, out.dts = pts, dts
        out.time_base = time_base
        out.is_keyframe = packet.keyframe
        out.stream = self._stream
        self._container.mux(out)
        self._last_dts = dts
        self.last = packet.time
        self.packets += 1
        return True

    def close(self) -> bool:
        """Finish the file (an MP4 is playable only once closed); False if nothing was written."""
        if self._container is None:
            return False
        self._container.close()
        self._container = None
        return True

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0


def within_limit(files: list[Path], limit_bytes: int) -> list[Path]:
    """Delete the oldest of ``files`` (oldest first) until they fit; the deleted ones.

    The newest file is never deleted, even alone over the limit: it is the
    recording just made (or being made).
    """
    sizes = {path: path.stat().st_size for path in files if path.exists()}
    total = sum(sizes.values())
    deleted = []
    for path in files[:-1]:
        if total <= limit_bytes:
            break
        if path in sizes:
            path.unlink(missing_ok=True)
            total -= sizes[path]
            deleted.append(path)
    return deleted


@dataclass
class RecordedFile:
    path: Path
    # Media times (seconds, the run's clock, the clock of its inference events' timestamps)
    # of the file's time 0 and of its last frame; None when not known (found on disk at
    # start) or, for media_end, while the file is being written.
    media_start: Fraction | None = None
    media_end: Fraction | None = None

    @property
    def complete(self) -> bool:
        return self.media_end is not None


@dataclass
class Recording:
    instance: str
    sink: str
    output_type: Literal["assetName", "filePath"]
    location: str  # what LVA reports as outputLocation
    path: Path  # the asset's folder or the file
    started: str = field(default_factory=now_iso)
    stopped: str | None = None
    files: list[RecordedFile] = field(default_factory=list)
    restored: bool = False  # found on disk at start: made before this simulator started

    @property
    def recording(self) -> bool:
        return self.stopped is None


def found_on_disk(
    instance: str,
    sink: str,
    output_type: Literal["assetName", "filePath"],
    location: str,
    path: Path,
    files: list[Path],
) -> Recording:
    """A recording a sink left on disk before this start: its files, oldest first."""
    times = [p.stat().st_mtime for p in files]
    return Recording(
        instance,
        sink,
        output_type,
        location,
        path,
        started=iso(datetime.fromtimestamp(min(times), UTC)),
        stopped=iso(datetime.fromtimestamp(max(times), UTC)),
        files=[RecordedFile(p) for p in files],
        restored=True,
    )


class RecordingLog:
    def __init__(self) -> None:
        self._recordings: list[Recording] = []

    def add(self, recording: Recording) -> Recording:
        self._recordings.append(recording)
        return recording

    def restore(self, found: list[Recording]) -> None:
        """Put first what sinks left on disk before this start (files not listed yet)."""
        known = {f.path for r in self._recordings for f in r.files}
        earlier = [r for r in found if not {f.path for f in r.files} & known]
        self._recordings[:0] = sorted(earlier, key=lambda r: r.started)

    def list(self, instance: str | None = None) -> list[Recording]:
        return [r for r in self._recordings if instance is None or r.instance == instance]
