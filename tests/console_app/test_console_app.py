"""The cloud-to-device console app, as a process, against the simulator over HTTPS.

The app uses the real azure-iot-hub SDK; it trusts the simulator's self-signed
certificate through REQUESTS_CA_BUNDLE, the CA-bundle variable of the SDK's
HTTP stack (requests). The simulator has a camera serving a clip with motion
as rtspsim's ``camera-300s.mkv`` with the samples' credentials, and reaches
the extension as the module ``grpcExtension``, so operations files written for
a real device run unchanged.
"""

from __future__ import annotations

import base64
import json
import os
import pty
import socket
import string
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from tests.support.media import FPS, FRAMES, motion_spans
from tests.support.paths import REPO
from tests.support.sample_edge import CAMERA, EXTENSION, sample_edge
from tests.support.simulator import (
    DEVICE,
    MODULE,
    event_type,
    messages,
    node_of,
    of_instance,
)
from tests.support.waiting import wait_for

APP = REPO / "cloud-to-device-console-app" / "main.py"
DEMO_TEMPLATE = REPO / "scripts" / "demo" / "operations.template.json"
USER, PASSWORD = EXTENSION


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    with sample_edge(tmp_path_factory.mktemp("console")) as running:
        yield running


def run_app(sim, operations: Path, *args, env=None, connection_string=None):
    environment = {
        k: v for k, v in os.environ.items() if k not in ("IoThubConnectionString", "deviceId")
    }
    environment.update(
        {
            "IoThubConnectionString": connection_string or sim.connection_string,
            "deviceId": DEVICE,
            "moduleId": MODULE,
            "REQUESTS_CA_BUNDLE": str(sim.certificate),
            **(env or {}),
        }
    )
    return subprocess.run(
        [sys.executable, str(APP), "--operations", str(operations), *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=operations.parent,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def ops(*operations):
    return {
        "apiVersion": "2.0",
        "operations": [{"opName": n, "opParams": p} for n, p in operations],
    }


def statuses(output: str) -> list[tuple[str, int]]:
    found = []
    for line in output.splitlines():
        if "Response:" in line:
            method, status = line.split("Response: ")[1].split(" - Status: ")
            found.append((method.strip(), int(status.split()[0])))
    return found


def test_the_demo_operations_run_whole(sim, tmp_path):
    operations = tmp_path / "operations.json"
    operations.write_text(
        string.Template(DEMO_TEMPLATE.read_text()).substitute(
            TOPOLOGY_FILE=REPO / "topologies" / "grpcExtension" / "topology.json",
            CLIP_NAME="camera-300s.mkv",
            CAMERA_USERNAME=CAMERA[0],
            CAMERA_PASSWORD=CAMERA[1],
            EXTENSION_USERNAME=USER,
            EXTENSION_PASSWORD=PASSWORD,
            SAMPLES_PER_SECOND="15",
            GATE_TIME="PT1S",
            DEMO_SECONDS="5",
        )
    )
    result = run_app(sim, operations, "--stop-on-error")
    assert result.returncode == 0, result.stdout + result.stderr
    assert statuses(result.stdout) == [
        ("GraphTopologyList", 200),
        ("GraphTopologySet", 201),
        ("GraphInstanceSet", 201),
        ("GraphInstanceActivate", 200),
        ("GraphInstanceGet", 200),
        ("GraphInstanceDeactivate", 200),
        ("GraphInstanceDelete", 200),
        ("GraphTopologyDelete", 200),
        ("GraphTopologyList", 200),
    ]
    assert "continuing in 5 s" in result.stdout  # WaitForInput without a terminal
    # Secret parameter values are masked (the topology's defaults are printed as they are).
    assert f'"value": "{PASSWORD}"' not in result.stdout and '"value": "********"' in result.stdout
    assert '"@apiVersion": "2.0"' in result.stdout
    published = of_instance(messages(sim.options.state_dir / "messages.jsonl"), "Demo-1")
    kinds = {(event_type(m), node_of(m)) for m in published}
    assert {
        ("MediaSessionEstablished", "rtspSource"),
        ("Inference", "grpcExtension"),
        ("RecordingStarted", "assetSink"),
        ("RecordingStopped", "assetSink"),
        ("RecordingAvailable", "assetSink"),
    } <= kinds
    inferences = [m for m in published if event_type(m) == "Inference"]
    tags = {m["body"]["inferences"][0]["classification"]["tag"]["value"] for m in inferences}
    assert tags == {"dark"}  # light boxes on a dark background
    # Motion first: the extension saw only frames in which a box moves.
    clip = Fraction(FRAMES, FPS)
    for message in inferences:
        time = Fraction(message["body"]["timestamp"], 90_000) % clip
        assert any(start <= time <= stop for start, stop in motion_spans()), float(time)


def test_the_repositorys_operations_file_runs_unchanged_with_a_person_at_the_keyboard(sim):
    """cloud-to-device-console-app/operations.json as it is, Enter pressed at each pause."""
    operations = REPO / "cloud-to-device-console-app" / "operations.json"
    controller, terminal = pty.openpty()
    environment = {
        k: v for k, v in os.environ.items() if k not in ("IoThubConnectionString", "deviceId")
    }
    environment.update(
        IoThubConnectionString=sim.connection_string,
        deviceId=DEVICE,
        moduleId=MODULE,
        REQUESTS_CA_BUNDLE=str(sim.certificate),
    )
    app = subprocess.Popen(
        [sys.executable, str(APP), "--operations", str(operations)],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=operations.parent,
    )
    os.close(terminal)
    try:
        os.write(controller, b"\n")  # "Press Enter to continue"
        sink = sim.options.state_dir / "messages.jsonl"

        def seen() -> set[str]:
            return {event_type(m) for m in of_instance(messages(sink), "Sample-Graph-1")}

        # Active: the camera's session, inferences on motion, a recording under way.
        wait_for(lambda: {"Inference", "RecordingStarted"} <= seen(), what="the graph at work")
        os.write(controller, b"\n")  # "... Press Enter to continue and deactivate"
        output, errors = app.communicate(timeout=60)
    finally:
        if app.poll() is None:
            app.kill()
        os.close(controller)
    assert app.returncode == 0, output + errors
    assert [method for method, status in statuses(output) if status >= 300] == []
    assert len(statuses(output)) == 9
    # Deactivation ends the 15 s recording early: it is stopped, and available.
    assert {"MediaSessionEstablished", "RecordingStopped", "RecordingAvailable"} <= seen()


def test_a_wrong_key_gives_one_clear_401_line(sim, tmp_path):
    identity = sim.simulator.connection_string
    wrong = str(identity).replace(identity.key, base64.b64encode(b"w" * 32).decode())
    result = run_app(
        sim,
        _write(tmp_path, ops(("GraphTopologyList", {}), ("GraphInstanceList", {}))),
        "--stop-on-error",
        connection_string=wrong,
    )
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("error:")]
    assert len(errors) == 1  # --stop-on-error: the second operation is not tried
    assert "401 Unauthorized" in errors[0] and "SharedAccessKey" in errors[0]
    assert "Request: GraphInstanceList" not in result.stdout


def _write(directory: Path, operations: dict) -> Path:
    path = directory / "operations.json"
    path.write_text(json.dumps(operations))
    return path


def test_an_unknown_module_gives_a_clear_404(sim, tmp_path):
    result = run_app(
        sim, _write(tmp_path, ops(("GraphTopologyList", {}))), env={"moduleId": "nomodule"}
    )
    assert result.returncode == 1
    assert "404 Not Found" in result.stdout
    assert "moduleId 'nomodule'" in result.stdout


def test_deleting_a_topology_in_use_prints_the_409(sim, tmp_path):
    topology = json.loads((REPO / "topologies" / "grpcExtension" / "topology.json").read_text())
    (tmp_path / "topology.json").write_text(json.dumps({**topology, "name": "InUse"}))
    graph = {
        "name": "uses-it",
        "properties": {
            "topologyName": "InUse",
            "parameters": [{"name": "rtspUrl", "value": "rtsp://camera.invalid/stream"}],
        },
    }
    operations = ops(
        ("GraphTopologySet", {"topologyUrl": (tmp_path / "topology.json").as_uri()}),
        ("GraphInstanceSet", graph),
        ("GraphTopologyDelete", {"name": "InUse"}),
        ("GraphInstanceDelete", {"name": "uses-it"}),
        ("GraphTopologyDelete", {"name": "InUse"}),
    )
    result = run_app(sim, _write(tmp_path, operations))
    assert result.returncode == 1  # one operation failed; the others ran
    assert statuses(result.stdout) == [
        ("GraphTopologySet", 201),
        ("GraphInstanceSet", 201),
        ("GraphTopologyDelete", 409),
        ("GraphInstanceDelete", 200),
        ("GraphTopologyDelete", 200),
    ]
    assert '"code": "GraphTopologyInUse"' in result.stdout
    (error,) = [line for line in result.stdout.splitlines() if line.startswith("error:")]
    assert "GraphTopologyDelete" in error and "409" in error and "uses-it" in error


def test_a_missing_topology_file_is_named(sim, tmp_path):
    operations = ops(("GraphTopologySet", {"topologyFile": "nowhere/topology.json"}))
    result = run_app(sim, _write(tmp_path, operations))
    assert result.returncode == 1
    assert f"topologyFile not found: {tmp_path / 'nowhere' / 'topology.json'}" in result.stdout


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///nowhere/topology.json", "topologyUrl not found: /nowhere/topology.json"),
        ("https://{hub}/topology.json", "CERTIFICATE_VERIFY_FAILED"),  # not a trusted certificate
        ("http://{hub}/topology.json", "must be an https:// or file:// URL"),
    ],
    ids=["missing-file-url", "untrusted-https", "plain-http"],
)
def test_topology_urls_that_cannot_be_used(sim, tmp_path, url, message):
    url = url.replace("{hub}", sim.simulator.connection_string.host_name)
    operations = ops(("GraphTopologySet", {"topologyUrl": url}), ("GraphTopologyList", {}))
    result = run_app(sim, _write(tmp_path, operations))
    assert result.returncode == 1
    (error,) = [line for line in result.stdout.splitlines() if line.startswith("error:")]
    assert message in error
    assert "Response: GraphTopologyList - Status: 200" in result.stdout  # the run went on


@pytest.mark.parametrize(
    ("connection_string", "message"),
    [
        ("not a connection string", "Name=value pairs"),
        ("HostName=h;SharedAccessKeyName=p;SharedAccessKey=%%%", "not valid base64"),
        ("HostName=h;DeviceId=d;SharedAccessKey=a2V5", "lacks 'SharedAccessKeyName'"),
    ],
    ids=["garbage", "bad-key", "device-string"],
)
def test_bad_connection_strings(sim, tmp_path, connection_string, message):
    result = run_app(
        sim, _write(tmp_path, ops(("GraphTopologyList", {}))), connection_string=connection_string
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: IoThubConnectionString is not")
    assert message in result.stderr
    assert "a2V5" not in result.stderr  # the key is never shown


def test_an_unreachable_hub_is_one_line(sim, tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    key = sim.simulator.connection_string.key
    closed = f"HostName=127.0.0.1:{port};SharedAccessKeyName=iothubowner;SharedAccessKey={key}"
    result = run_app(
        sim, _write(tmp_path, ops(("GraphTopologyList", {}))), connection_string=closed
    )
    assert result.returncode == 1
    assert f"cannot reach the IoT hub at 127.0.0.1:{port}: [Errno 111] Connection refused" in (
        result.stdout
    )


def test_settings_come_from_appsettings_json_and_missing_ones_are_named(sim, tmp_path):
    settings = tmp_path / "appsettings.json"
    settings.write_text(
        json.dumps(
            {"IoThubConnectionString": sim.connection_string, "deviceId": DEVICE, "moduleId": "x"}
        )
    )
    operations = _write(tmp_path, ops(("GraphTopologyList", {})))
    environment = {"IoThubConnectionString": "", "deviceId": "", "moduleId": MODULE}
    result = run_app(sim, operations, "--settings", str(settings), env=environment)
    assert result.returncode == 0, result.stdout + result.stderr  # moduleId: environment wins
    settings.write_text(json.dumps({"deviceId": DEVICE}))
    result = run_app(sim, operations, "--settings", str(settings), env=environment)
    assert result.returncode == 2
    assert "missing IoThubConnectionString" in result.stderr and str(settings) in result.stderr


def test_a_missing_operations_file_is_named(sim, tmp_path):
    result = run_app(sim, tmp_path / "none.json")
    assert result.returncode == 2
    assert f"operations file not found: {tmp_path / 'none.json'}" in result.stderr
