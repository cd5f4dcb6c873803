"""The simulator set up as the samples' edge device, so their files run unchanged.

Its camera serves a clip with motion as rtspsim's ``camera-300s.mkv`` with the
samples' credentials, and the extension (with .env.example's credentials, the
topologies' defaults) is the module ``grpcExtension``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lva_simulator.graph.node import Playback

from tests.support.media import make_moving_clip
from tests.support.servers import running_server
from tests.support.simulator import RunningSimulator, running_simulator

CAMERA = ("testuser", "testpassword")  # the topologies' rtspUserName / rtspPassword defaults
EXTENSION = ("lvaextension", "change-this-password")  # .env.example: the topologies' defaults


@contextmanager
def sample_edge(folder: Path) -> Iterator[RunningSimulator]:
    make_moving_clip(folder / "media" / "camera-300s.mkv")
    with (
        running_server(auth_username=EXTENSION[0], auth_password=EXTENSION[1]) as extension,
        running_simulator(
            folder / "state",
            playback=Playback(loop=True, realtime=True),
            camera_media=folder / "media",
            camera_port=0,
            camera_username=CAMERA[0],
            camera_password=CAMERA[1],
            modules={"grpcExtension": extension.address},
        ) as simulator,
    ):
        yield simulator
