"""Messages to the module's input open a gate: ``lva-simulator send-message`` and its endpoint.

As LVA's evr-hubMessage-files sample: an IoT Hub message source feeds a signal
gate; each message records a stretch of the camera to a file.
"""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from lva_simulator.graph.node import Playback
from lva_simulator.iothub import sas

from tests.support import graphs
from tests.support.media import GOP_SECONDS, make_moving_clip, read_recording
from tests.support.simulator import event_type, messages, of_instance, running_simulator
from tests.support.waiting import wait_for


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hub")
    clip = make_moving_clip(folder / "clip.mp4", size=(160, 120))
    live = Playback(loop=True, realtime=True)
    with running_simulator(
        folder / "state", playback=live, volumes={"/var/media": folder / "out"}
    ) as running:
        topology = graphs.topology(
            "EvrHubMessageFiles",
            graphs.rtsp_source(),
            graphs.hub_source("recordingTrigger"),
            graphs.gate("hubSource"),
            graphs.file_sink("/var/media", "trigger-${System.PreciseDateTime}"),
        )
        assert running.invoke("GraphTopologySet", topology)[0] == 201
        body = graphs.instance("hub-1", "EvrHubMessageFiles", rtspUrl=str(clip))
        assert running.invoke("GraphInstanceSet", body)[0] == 201
        assert running.invoke("GraphInstanceActivate", {"name": "hub-1"}) == (200, None)
        running.out = folder / "out"
        yield running


def send(sim, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "lva_simulator", "send-message", *args]
    state = ["--state-dir", str(sim.options.state_dir), "--device-id", sim.options.device_id]
    return subprocess.run([*command, *state], capture_output=True, text=True, timeout=60)


def test_a_message_records_a_stretch_of_the_camera(sim):
    clock = sim.simulator.module.runs["hub-1"].clock
    wait_for(lambda: clock(), what="the camera's first frames")
    result = send(sim, "recordingTrigger", "--body", '{"count": 3}', "--property", "origin=test")
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.strip()
        == "delivered to 1 IoT Hub message source(s) reading 'recordingTrigger'"
    )
    published = lambda: of_instance(messages(sim.options.state_dir / "messages.jsonl"), "hub-1")  # noqa: E731
    wait_for(
        lambda: "RecordingAvailable" in [event_type(m) for m in published()], what="a recording"
    )
    [path] = sorted(sim.out.glob("trigger-*.mp4"))
    assert 1 <= read_recording(path).seconds <= 1 + GOP_SECONDS  # the gate's second
    assert [event_type(m) for m in published()] == [
        "RecordingStarted",
        "RecordingStopped",
        "RecordingAvailable",
    ]


def test_a_message_nobody_reads_says_so(sim):
    result = send(sim, "elsewhere")
    assert result.returncode == 1
    assert "no running graph instance reads input 'elsewhere'" in result.stderr
    assert send(sim, "recordingTrigger", "--body", "not json").returncode == 2


def post(sim, path: str, token: str, body: bytes = b"{}") -> tuple[int, dict]:
    identity = sim.simulator.connection_string
    request = urllib.request.Request(
        f"https://{identity.host_name}{path}",
        data=body,
        headers={"Authorization": token, "Content-Type": "application/json"},
        method="POST",
    )
    context = ssl.create_default_context(cafile=str(sim.certificate))
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_endpoint_checks_the_token_and_the_names(sim):
    identity = sim.simulator.connection_string
    good = sas.generate(identity.host_name, identity.key_name, identity.key_bytes)
    forged = sas.generate(
        identity.host_name, identity.key_name, base64.b64decode(base64.b64encode(b"k" * 32))
    )
    module = f"/devices/{sim.options.device_id}/modules/{sim.options.module_id}"
    path = f"{module}/inputs/recordingTrigger/messages"
    assert post(sim, path, good)[0] == 200
    status, answer = post(sim, path, forged)
    assert status == 401 and "IotHubUnauthorizedAccess" in answer["message"]
    status, answer = post(sim, path.replace(sim.options.module_id, "nomodule"), good)
    assert (status, answer["errorCode"]) == (404, 404010)
    status, answer = post(sim, path, good, b"\xff\xfe")
    assert (status, answer["errorCode"]) == (400, 400004)
