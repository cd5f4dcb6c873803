"""The rtspsim-like camera and the RTSP source against it: credentials, drops, reconnects.

Everything is real: GStreamer's RTSP server in its own process (the system
Python), FFmpeg (PyAV) in the simulator dialling it over loopback.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import av
import pytest
from lva_simulator.camera import CameraProcess
from lva_simulator.graph.node import Playback

from tests.support import graphs
from tests.support.loop_thread import LoopThread
from tests.support.media import make_moving_clip
from tests.support.simulator import (
    event_type,
    messages,
    node_of,
    of_instance,
    running_simulator,
)
from tests.support.waiting import wait_for

USER, PASSWORD = "viewer", "camera-Pässword"
LIVE = Playback(loop=True, realtime=True)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("camera")
    make_moving_clip(folder / "clip.mkv", frames=20, size=(160, 120))
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def watch_graph(sim, name: str, url: str, username: str = "", password: str = "") -> None:
    topology = graphs.topology(
        f"T{name}",
        graphs.rtsp_source(url, username, password),
        graphs.asset_sink("a-${System.GraphInstanceName}"),
        parameters=(),
    )
    assert sim.invoke("GraphTopologySet", topology)[0] == 201
    assert sim.invoke("GraphInstanceSet", graphs.instance(name, f"T{name}"))[0] == 201
    assert sim.invoke("GraphInstanceActivate", {"name": name}) == (200, None)


def events_of(sim, name: str) -> list[dict]:
    return of_instance(messages(sim.options.state_dir / "messages.jsonl"), name)


def kinds(sim, name: str) -> list[str]:
    return [event_type(m) for m in events_of(sim, name)]


def test_a_camera_that_refuses_the_credentials_is_a_protocol_error(tmp_path, media):
    options = {
        "camera_media": media,
        "camera_port": 0,
        "camera_username": USER,
        "camera_password": PASSWORD,
    }
    with running_simulator(tmp_path / "sim", playback=LIVE, **options) as sim:
        watch_graph(sim, "wrong", "rtsp://rtspsim:554/media/clip.mkv", USER, "guess")
        counters = sim.simulator.module.runs["wrong"].nodes["rtspSource"].context.counters
        wait_for(lambda: counters.errors >= 3, what="three refused attempts")
        watch_graph(sim, "right", "rtsp://rtspsim:554/media/clip.mkv", USER, PASSWORD)
        wait_for(lambda: "MediaSessionEstablished" in kinds(sim, "right"), what="a session")
        refused = events_of(sim, "wrong")
    # One event for the trouble, not one per attempt; never a session.
    [error] = refused
    assert event_type(error) == "ProtocolError" and node_of(error) == "rtspSource"
    assert error["body"]["protocol"] == "rtsp" and error["body"]["errorCode"] == "401"
    assert error["outputName"] == "AmsDiagnostics"


def test_an_unreachable_camera_is_a_network_error(tmp_path):
    with running_simulator(tmp_path / "sim", playback=LIVE) as sim:
        watch_graph(sim, "closed", f"rtsp://127.0.0.1:{free_port()}/media/clip.mkv")
        watch_graph(sim, "nameless", "rtsp://rtspsim:554/media/clip.mkv")
        wait_for(lambda: kinds(sim, "closed") and kinds(sim, "nameless"), what="two errors")
        [closed] = events_of(sim, "closed")
        [nameless] = events_of(sim, "nameless")
        # Still active: a camera may come back.
        assert (
            sim.invoke("GraphInstanceGet", {"name": "closed"})[1]["properties"]["state"] == "Active"
        )
    assert (event_type(closed), closed["body"]["errorCode"]) == (
        "NetworkError",
        "ConnectionRefused",
    )
    assert (event_type(nameless), nameless["body"]["errorCode"]) == ("NetworkError", "HostNotFound")
    assert "--camera-media" in nameless["body"]["message"]  # how to give rtspsim a camera


def test_the_source_reconnects_after_the_camera_drops(tmp_path, media):
    port = free_port()
    thread = LoopThread()
    camera = CameraProcess(media, "127.0.0.1", port)
    try:
        with running_simulator(
            tmp_path / "sim", playback=LIVE, modules={"rtspsim": f"127.0.0.1:{port}"}
        ) as sim:
            thread.call(camera.start())
            watch_graph(sim, "drop", "rtsp://rtspsim:554/media/clip.mkv")
            wait_for(lambda: "MediaSessionEstablished" in kinds(sim, "drop"), what="a session")
            thread.call(camera.stop())  # the camera goes away mid-stream ...
            wait_for(lambda: "NetworkError" in kinds(sim, "drop"), what="the drop")
            thread.call(camera.start())  # ... and comes back on the same port
            wait_for(
                lambda: kinds(sim, "drop").count("MediaSessionEstablished") >= 2, what="a reconnect"
            )
            sessions = sim.simulator.module.runs["drop"].nodes["rtspSource"].sessions
            assert sim.invoke("GraphInstanceDeactivate", {"name": "drop"}) == (200, None)
            found = kinds(sim, "drop")
    finally:
        thread.call(camera.stop())
        thread.close()
    assert found[0] == "MediaSessionEstablished"
    assert found.index("NetworkError") < len(found) - 1 - found[::-1].index(
        "MediaSessionEstablished"
    )
    assert sessions >= 2


def test_camera_command_serves_the_folder_and_stops_with_its_server(media):
    env = {**os.environ, "LVA_SIMULATOR_CAMERA_PASSWORD": PASSWORD}
    command = [
        sys.executable,
        "-m",
        "lva_simulator",
        "camera",
        "--media",
        str(media),
        "--port",
        "0",
    ]
    process = subprocess.Popen(
        [*command, "--username", USER],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("rtsp://127.0.0.1:") and url.endswith("/media/clip.mkv")
        with av.open(
            url.replace("rtsp://", f"rtsp://{USER}:{PASSWORD}@"), options={"rtsp_transport": "tcp"}
        ) as container:
            frames = {p.pts for p in container.demux(video=0) if p.pts is not None}
        assert len(frames) == 20  # the whole clip (parameter sets come as packets of their own)
        with pytest.raises(av.HTTPUnauthorizedError):
            av.open(url, options={"rtsp_transport": "tcp"})
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    # The GStreamer process went with it: its port is free again.
    port = int(url.split(":")[2].split("/")[0])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


def test_a_camera_without_gstreamer_says_what_to_install(media):
    env = {**os.environ, "LVA_SIMULATOR_CAMERA_PYTHON": sys.executable}  # the venv: no gi
    result = subprocess.run(
        [sys.executable, "-m", "lva_simulator", "camera", "--media", str(media), "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "gir1.2-gst-rtsp-server-1.0" in line and "scripts/setup.sh" in line
