"""MediaGraphAssetSink: a local stand-in for a Media Services asset.

An asset is a folder ``ASSETS_DIR/<asset name>/`` (``serve --assets-dir``,
default STATE_DIR/assets) of MP4 files of about ``segmentLength`` each
(``segment-0001.mp4``, ...), remuxed from the camera's stream without
re-encoding, cut at the first keyframe after each ``segmentLength``. The name
is ``assetNamePattern`` with the system variables filled in when the
recording starts: with ``${System.DateTime}`` every gate activation makes a
new asset; without it, recordings go on in the same asset, as in LVA.

Nothing is uploaded, so the folder is also the local cache:
``localMediaCacheMaximumSizeMiB`` bounds what the sink keeps across all its
assets (oldest segments deleted first); ``localMediaCachePath`` is checked
(absolute) and otherwise not used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

from ..media import Packet
from ..node import NodeContext
from ..properties import Reader
from ..recorder import Recorder, expand, wildcard
from ..recordings import Mp4File, Recording, found_on_disk

# Asset names Media Services accepts (after the system variables are filled in).
ASSET_NAME = re.compile(r"^[^<>%&:\\/?*+.']{1,260}$")
SEGMENT_STEP = Fraction(30)


@dataclass(frozen=True)
class AssetSinkSpec:
    pattern: str
    segment_length: Fraction
    cache_path: str
    cache_bytes: int


def parse(node: Reader) -> AssetSinkSpec:
    pattern = node.text("assetNamePattern")
    sample = expand(pattern, "topology", "instance", datetime(2020, 1, 1, tzinfo=UTC))
    if pattern and not ASSET_NAME.match(sample):
        node.fail(
            "assetNamePattern",
            f"the asset name {sample!r} is not valid: at most 260 characters,"
            " none of <>%&:\\/?*+.'",
        )
    segment = node.duration("segmentLength", "PT30S", SEGMENT_STEP, Fraction(86400))
    if segment % SEGMENT_STEP:
        node.fail(
            "segmentLength", f"segmentLength: expected a multiple of 30 s, got {float(segment):g} s"
        )
    cache_path = node.text("localMediaCachePath")
    if cache_path and not cache_path.startswith("/"):
        node.fail(
            "localMediaCachePath",
            f"localMediaCachePath must be an absolute path, got {cache_path!r}",
        )
    cache_bytes = node.integer("localMediaCacheMaximumSizeMiB") * 1024 * 1024
    return AssetSinkSpec(pattern, segment, cache_path, cache_bytes)


class AssetSink(Recorder):
    output_type = "assetName"

    def __init__(self, spec: AssetSinkSpec, context: NodeContext) -> None:
        super().__init__(context, spec.cache_bytes)
        self.spec = spec
        self.root = context.options.assets_dir

    def begin(self, when: datetime) -> tuple[str, Path]:
        name = expand(self.spec.pattern, self.context.topology, self.context.instance, when)
        return name, self.root / name

    def next_file(self, recording: Recording) -> Path:
        recording.path.mkdir(parents=True, exist_ok=True)
        number = len(list(recording.path.glob("segment-*.mp4"))) + 1
        return recording.path / f"segment-{number:04d}.mp4"

    def cut_due(self, file: Mp4File, packet: Packet) -> bool:
        return file.first is not None and packet.time - file.first >= self.spec.segment_length

    def own_files(self) -> list[Path]:
        files = self.root.glob(f"{wildcard(self.spec.pattern)}/segment-*.mp4")
        return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))

    def on_disk(self) -> list[Recording]:
        assets: dict[Path, list[Path]] = {}
        for path in self.own_files():
            assets.setdefault(path.parent, []).append(path)
        context = self.context
        return [
            found_on_disk(
                context.instance, context.name, self.output_type, folder.name, folder, files
            )
            for folder, files in assets.items()
        ]
