"""A graph to watch: the squares clip through a real extension, in a simulator with its web view.

Used by the web view's browser tests and by bench/web_view.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lva_extension.client.clips import write_clip
from lva_simulator.sources import Playback
from lva_simulator.web import WebOptions

from tests.support.simulator import RunningSimulator, instance, running_simulator, topology
from tests.support.squares import FRAMES, square_frames

INSTANCE = "squares"
WIDTH, HEIGHT, FPS = 320, 240, 15
TICKS_PER_FRAME = 90_000 // FPS
PROCESSOR = "tests.support.squares:FindSquares"


def squares_clip(
    folder: Path,
    frames: int = FRAMES,
    texture: bool = False,
    size: tuple[int, int] = (WIDTH, HEIGHT),
) -> Path:
    path = folder / "squares.mp4"
    write_clip(path, square_frames(*size, frames, texture), fps=FPS)
    return path


@contextmanager
def watched_graph(
    folder: Path,
    extension_address: str,
    playback: Playback | None = None,
    image_format: dict[str, str] | None = None,
    frames: int = FRAMES,
    activate: bool = True,
    texture: bool = False,
    size: tuple[int, int] = (WIDTH, HEIGHT),
    **parameters: str,
) -> Iterator[RunningSimulator]:
    """The simulator (web view on a free port) running the squares clip, looped in real time."""
    clip = squares_clip(folder, frames, texture, size)
    options: dict[str, Any] = {
        "playback": playback or Playback(loop=True, realtime=True),
        "web": WebOptions(port=0),
    }
    with running_simulator(folder / "simulator", **options) as sim:
        status, payload = sim.invoke("GraphTopologySet", topology(image_format=image_format))
        assert status == 201, payload
        status, payload = sim.invoke(
            "GraphInstanceSet",
            instance(
                INSTANCE,
                rtspUrl=str(clip),
                grpcExtensionAddress=f"tcp://{extension_address}",
                extensionConfiguration=PROCESSOR,
                frameWidth=str(size[0]),
                frameHeight=str(size[1]),
                maximumSamplesPerSecond=str(FPS),
                **parameters,
            ),
        )
        assert status == 201, payload
        if activate:
            assert sim.invoke("GraphInstanceActivate", {"name": INSTANCE}) == (200, None)
        yield sim


def web_url(sim: RunningSimulator, path: str = "/", token: bool = True) -> str:
    web = sim.simulator.web
    assert web is not None
    base = f"http://127.0.0.1:{web.port}{path}"
    return f"{base}?token={web.options.token}" if token else base
