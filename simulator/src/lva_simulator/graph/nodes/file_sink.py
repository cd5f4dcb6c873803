"""MediaGraphFileSink: one MP4 file per gate activation under ``baseDirectoryPath``.

The file is ``<baseDirectoryPath>/<fileNamePattern>.mp4`` with the system
variables filled in when the recording starts (the LVA 1.0 example:
``sampleFilesFromEVR-filesinkOutput-20200521T053726Z.mp4``); if the camera
comes back with other codec parameters during a recording, the rest goes to
``<name>-2.mp4`` and so on.
``RecordingStarted``/``Stopped``/``Available`` report ``outputType``
``filePath`` and the path as the graph names it. ``baseDirectoryPath`` is a
path inside the LVA container; ``serve --volume /var/media=DIR`` maps it to a
folder of this machine, as the module's createOptions would bind it.
``maximumSizeMiB`` bounds the disk the sink's files use: beyond it its oldest
files are deleted (what Azure Video Analyzer documented; LVA did not say).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..node import NodeContext
from ..properties import Reader
from ..recorder import Recorder, expand, wildcard
from ..recordings import Recording, found_on_disk


@dataclass(frozen=True)
class FileSinkSpec:
    base_directory: str
    pattern: str
    maximum_bytes: int


def parse(node: Reader) -> FileSinkSpec:
    base = node.text("baseDirectoryPath")
    if base and not base.startswith("/"):
        node.fail("baseDirectoryPath", f"baseDirectoryPath must be an absolute path, got {base!r}")
    pattern = node.text("fileNamePattern")
    if "/" in pattern:
        node.fail(
            "fileNamePattern", f"fileNamePattern is a file name, without '/': got {pattern!r}"
        )
    maximum = node.integer("maximumSizeMiB") * 1024 * 1024
    return FileSinkSpec(base, pattern, maximum)


class FileSink(Recorder):
    output_type = "filePath"

    def __init__(self, spec: FileSinkSpec, context: NodeContext) -> None:
        super().__init__(context, spec.maximum_bytes)
        self.spec = spec
        self.folder = context.options.host_path(spec.base_directory)

    def begin(self, when: datetime) -> tuple[str, Path]:
        name = expand(self.spec.pattern, self.context.topology, self.context.instance, when)
        return posixpath.join(self.spec.base_directory, f"{name}.mp4"), self.folder / f"{name}.mp4"

    def next_file(self, recording: Recording) -> Path:
        if not recording.files:
            return recording.path
        return recording.path.with_name(f"{recording.path.stem}-{len(recording.files) + 1}.mp4")

    def own_files(self) -> list[Path]:
        files = self.folder.glob(f"{wildcard(self.spec.pattern)}.mp4")
        return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))

    def on_disk(self) -> list[Recording]:
        context, base = self.context, self.spec.base_directory
        return [
            found_on_disk(
                context.instance,
                context.name,
                self.output_type,
                posixpath.join(base, path.name),
                path,
                [path],
            )
            for path in self.own_files()
        ]
