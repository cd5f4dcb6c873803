"""A graph to watch: the InferencingWithGrpcExtension sample on the squares clip, with the web view.

The sample topology (topologies/grpcExtension) runs as a user runs it:
motion detection, the frames that move padded to 320 x 320 and sent through
shared memory to a real extension whose processor finds the squares
(tests.support.squares), its answers to IoT Hub; motion also opens a signal
gate (1 s here) that records the camera into an asset. The clip comes from
the simulator's RTSP camera (``camera=True``, a new session each loop, as
the demo runs), or from the file itself (the bench plays it as fast as the
graph takes it). Used by the web view's browser tests and by bench/web_view.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lva_extension.client.clips import write_clip
from lva_simulator.app import SimulatorOptions
from lva_simulator.graph.node import Playback
from lva_simulator.web import WebOptions

from tests.support.paths import REPO
from tests.support.sample_edge import CAMERA, EXTENSION
from tests.support.simulator import RunningSimulator
from tests.support.squares import FRAMES, Box, square_frames

INSTANCE = "squares"
WIDTH, HEIGHT, FPS = 320, 240, 15
SENT = 320  # the extension gets 320 x 320: the clip padded top and bottom
SOURCE_AREA = (0.0, (SENT - HEIGHT) / 2 / SENT, 1.0, HEIGHT / SENT)
PROCESSOR = "tests.support.squares:FindSquares"
TOPOLOGY = REPO / "topologies" / "grpcExtension" / "topology.json"


def squares_clip(
    folder: Path,
    frames: int = FRAMES,
    texture: bool = False,
    size: tuple[int, int] = (WIDTH, HEIGHT),
) -> Path:
    """The clip, H.264 with a keyframe every half second (recordings start at one)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "squares.mkv"
    write_clip(path, square_frames(*size, frames, texture), fps=FPS, gop=FPS // 2)
    return path


def as_sent(box: Box) -> Box:
    """A box of the clip's frame, in the padded frame the extension got."""
    left, top, width, height = SOURCE_AREA
    return (left + box[0] * width, top + box[1] * height, box[2] * width, box[3] * height)


def sample_instance(rtsp_url: str, sent: int = SENT, **parameters: str) -> dict[str, Any]:
    values = {
        "rtspUrl": rtsp_url,
        "rtspUserName": CAMERA[0],
        "rtspPassword": CAMERA[1],
        "grpcExtensionUserName": EXTENSION[0],
        "grpcExtensionPassword": EXTENSION[1],
        "extensionConfiguration": PROCESSOR,
        # Above the clip's rate: every frame that moves (Matroska's millisecond timestamps
        # would put two frames in one slot of 1/15 s now and then).
        "maximumSamplesPerSecond": str(2 * FPS),
        "frameWidth": str(sent),
        "frameHeight": str(sent),
        "minimumActivationTime": "PT1S",
        "maximumActivationTime": "PT1S",
        **parameters,
    }
    return {
        "name": INSTANCE,
        "properties": {
            "topologyName": "InferencingWithGrpcExtension",
            "parameters": [{"name": k, "value": v} for k, v in values.items()],
        },
    }


def start_watched(
    folder: Path,
    extension_address: str,
    camera: bool = True,
    fast: bool = False,
    once: bool = False,
    frames: int = FRAMES,
    texture: bool = False,
    size: tuple[int, int] = (WIDTH, HEIGHT),
    activate: bool = True,
) -> RunningSimulator:
    """The simulator with its web view on a free port, the sample instance set (and active)."""
    clip = squares_clip(folder / "media", frames, texture, size)
    options: dict[str, Any] = {
        "port": 0,
        "state_dir": folder / "state",
        "sink_output": str(folder / "state" / "messages.jsonl"),
        "playback": Playback(loop=not once, realtime=not fast),
        "modules": {"grpcExtension": extension_address},
        "assets_dir": folder / "assets",
        "web": WebOptions(port=0),
    }
    if camera:
        options |= {
            "camera_media": clip.parent,
            "camera_port": 0,
            "camera_username": CAMERA[0],
            "camera_password": CAMERA[1],
        }
    url = "rtsp://rtspsim:554/media/squares.mkv" if camera else str(clip)
    sim = RunningSimulator(SimulatorOptions(device_id="sim-device", **options))
    try:
        status, payload = sim.invoke("GraphTopologySet", json.loads(TOPOLOGY.read_text()))
        assert status == 201, payload
        status, payload = sim.invoke("GraphInstanceSet", sample_instance(url, max(size)))
        assert status == 201, payload
        if activate:
            assert sim.invoke("GraphInstanceActivate", {"name": INSTANCE}) == (200, None)
    except BaseException:
        sim.stop()
        raise
    return sim


@contextmanager
def watched_graph(
    folder: Path, extension_address: str, **options: Any
) -> Iterator[RunningSimulator]:
    """``start_watched``, stopped at the end."""
    sim = start_watched(folder, extension_address, **options)
    try:
        yield sim
    finally:
        sim.stop()


def web_url(sim: RunningSimulator, path: str = "/", token: bool = True) -> str:
    web = sim.simulator.web
    assert web is not None
    base = f"http://127.0.0.1:{web.port}{path}"
    return f"{base}?token={web.options.token}" if token else base
