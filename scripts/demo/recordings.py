"""Print each recording under an assets folder: its path, length and video (for demo.sh)."""

from __future__ import annotations

import sys
from pathlib import Path

import av


def main(folder: Path) -> int:
    found = sorted(folder.glob("*/*.mp4"))
    if not found:
        print(f"   none in {folder}")
        return 1
    for path in found:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            seconds = (container.duration or 0) / 1_000_000
            video = f"{stream.codec_context.name} {stream.width}x{stream.height}"
            print(f"   {path}: {seconds:.1f} s, {video}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
