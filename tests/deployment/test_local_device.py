"""The rendered manifest, really deployed: ``lva-simulator deploy`` on this machine with podman.

As a user tries it before a device: render config/deployment.grpc.amd64.json from a .env,
deploy it (the simulator in lvaEdge's place, the extension from its image, IpcMode and all),
drive the graph with the cloud-to-device console app over the published HTTPS port, read the
inference messages from the device folder, and remove it all.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.containers import (
    EXTENSION_IMAGE,
    build_images,
    device_containers,
    local_device_lock,
    podman,
)
from tests.support.paths import DATA, REPO

BIN = Path(sys.executable).parent
RENDERER = REPO / "scripts" / "render_deployment.py"
TEMPLATE = REPO / "deployment.grpc.template.json"
CONSOLE_APP = REPO / "cloud-to-device-console-app" / "main.py"
INSTANCE = "local-1"
# Where the videos of rtspsim's folder appear inside the simulator's container.
CLIP_IN_CONTAINER = "/live/mediaServer/media/clip.mp4"
TRANSFERS = {
    "shared-memory": ("grpcExtension", []),
    "embedded": ("grpcExtension-embedded", ["--transfer-mode", "embedded"]),
}


@dataclass(frozen=True)
class Device:
    manifest: Path
    folder: Path  # the simulator's folder: connection string, certificate, messages
    deploy_output: str

    @property
    def messages(self) -> Path:
        return self.folder / "messages.jsonl"


def run(
    *command: str | Path, timeout: float = 120, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def env_file(tmp_path: Path) -> Path:
    """The tests' device .env, with the image of scripts/build-images.sh and folders here."""
    text = (DATA / "deployment" / "device.env").read_text()
    text = text.replace(
        "CONTAINER_REGISTRY_SERVER=contoso.azurecr.io", "CONTAINER_REGISTRY_SERVER=localhost"
    )
    text = text.replace("/srv/lva/", f"{tmp_path}/device-folders/")
    text = text.replace("GRPC_EXTENSION_LOG_LEVEL=DEBUG", "GRPC_EXTENSION_LOG_LEVEL=INFO")
    path = tmp_path / "device.env"
    path.write_text(text)
    return path


def credentials() -> tuple[str, str]:
    values = dict(
        line.split("=", 1)
        for line in (DATA / "deployment" / "device.env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    return values["GRPC_EXTENSION_USERNAME"], values["GRPC_EXTENSION_PASSWORD"]


@contextmanager
def deployed(tmp_path: Path, *render_options: str, **deploy_options: str) -> Iterator[Device]:
    """Render, make a clip in rtspsim's video folder, deploy; remove it all afterwards."""
    rendered = run(
        sys.executable, RENDERER, "--template", TEMPLATE, "--env-file", env_file(tmp_path),
        "--platform", "amd64", "--output-dir", tmp_path / "config", *render_options,
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    videos = tmp_path / "device-folders" / "input"
    videos.mkdir(parents=True)
    clip = run(BIN / "lva-extension", "sample-clip", videos / "clip.mp4", "--frames", "60",
               "--fps", "15", "--width", "320", "--height", "240")  # fmt: skip
    assert clip.returncode == 0, clip.stderr
    manifest = tmp_path / "config" / "deployment.grpc.amd64.json"
    options = {"--device-dir": str(tmp_path / "device"), "--hub-port": str(free_port())}
    options.update(deploy_options)
    arguments = [part for pair in options.items() for part in pair]
    try:
        deploy = run(BIN / "lva-simulator", "deploy", manifest, *arguments, timeout=300)
        assert deploy.returncode == 0, deploy.stdout + deploy.stderr
        yield Device(manifest, tmp_path / "device" / "lvaEdge", deploy.stdout)
    finally:
        remove = run(BIN / "lva-simulator", "remove", timeout=120)
        assert remove.returncode == 0, remove.stderr
        assert device_containers() == []
        assert podman("network", "exists", "azure-iot-edge").returncode == 1


def console_app(device: Device, operations: list[dict[str, Any]], tmp_path: Path) -> str:
    path = tmp_path / f"operations-{operations[0]['opName']}.json"
    path.write_text(json.dumps({"apiVersion": "2.0", "operations": operations}))
    env = {
        **os.environ,
        "IoThubConnectionString": (device.folder / "connection-string.txt").read_text().strip(),
        "deviceId": "lva-sim-device",
        "moduleId": "lvaEdge",
        "REQUESTS_CA_BUNDLE": str(device.folder / "hub-cert.pem"),
    }
    done = run(sys.executable, CONSOLE_APP, "--operations", path, "--no-wait", "--brief",
               "--stop-on-error", env=env, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def start_graph(topology: str) -> list[dict[str, Any]]:
    username, password = credentials()
    parameters = {
        "rtspUrl": CLIP_IN_CONTAINER,
        "grpcExtensionUserName": username,
        "grpcExtensionPassword": password,
    }
    topology_file = REPO / "topologies" / topology / "topology.json"
    name = json.loads(topology_file.read_text())["name"]
    return [
        {"opName": "GraphTopologySet", "opParams": {"topologyFile": str(topology_file)}},
        {
            "opName": "GraphInstanceSet",
            "opParams": {
                "name": INSTANCE,
                "properties": {
                    "topologyName": name,
                    "parameters": [{"name": k, "value": v} for k, v in parameters.items()],
                },
            },
        },
        {"opName": "GraphInstanceActivate", "opParams": {"name": INSTANCE}},
    ]


def stop_graph(topology: str) -> list[dict[str, Any]]:
    topology_file = REPO / "topologies" / topology / "topology.json"
    name = json.loads(topology_file.read_text())["name"]
    return [
        {"opName": "GraphInstanceDeactivate", "opParams": {"name": INSTANCE}},
        {"opName": "GraphInstanceDelete", "opParams": {"name": INSTANCE}},
        {"opName": "GraphTopologyDelete", "opParams": {"name": name}},
    ]


INFERENCE = "Microsoft.Media.Graph.Analytics.Inference"


def wait_for_inferences(path: Path, count: int, timeout: float = 90) -> list[dict[str, Any]]:
    """The inference messages of the sink file, once there are ``count`` (the topology's
    other outputs, such as recording events, are left out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.is_file() else []
        messages = [json.loads(line) for line in lines]
        inferences = [m for m in messages if m["applicationProperties"]["eventType"] == INFERENCE]
        if len(inferences) >= count:
            return inferences
        time.sleep(0.2)
    lva = podman("logs", "--tail", "5", "lvaEdge").stderr
    extension = podman("logs", "--tail", "5", "grpcExtension").stderr
    pytest.fail(
        f"fewer than {count} inferences in {timeout} s\nlvaEdge:\n{lva}\n"
        f"grpcExtension:\n{extension}"
    )


def shared_memory_files(container: str) -> list[str]:
    listed = podman("exec", container, "ls", "/dev/shm")
    assert listed.returncode == 0, listed.stderr
    return sorted(listed.stdout.split())


@pytest.mark.containers
@pytest.mark.timeout(1500)
@pytest.mark.parametrize("transfer", sorted(TRANSFERS))
def test_graph_runs_through_the_deployed_manifest(tmp_path: Path, transfer: str) -> None:
    topology, render_options = TRANSFERS[transfer]
    build_images()
    with local_device_lock(), deployed(tmp_path, *render_options) as device:
        output = device.deploy_output
        assert "rtspsim: skipped: mcr.microsoft.com/lva-utilities/rtspsim" in output
        assert "edgeHub: skipped: played by the simulator in lvaEdge" in output
        assert "lvaEdge: started: the simulator (localhost/lva-simulator:1.0.0)" in output
        assert "grpcExtension: healthy" in output

        console_app(device, start_graph(topology), tmp_path)
        messages = wait_for_inferences(device.messages, 10)
        in_lva, in_extension = shared_memory_files("lvaEdge"), shared_memory_files("grpcExtension")
        extension_ipc = podman("inspect", "--format", "{{.HostConfig.IpcMode}}", "grpcExtension")
        lva_id = podman("inspect", "--format", "{{.Id}}", "lvaEdge").stdout.strip()
        console_app(device, stop_graph(topology), tmp_path)

    if transfer == "shared-memory":
        # The simulator's ring lives in lvaEdge's /dev/shm, which the extension shares
        # (IpcMode container:lvaEdge), and not on the host's.
        assert extension_ipc.stdout.strip() == f"container:{lva_id}"
        assert in_lva and in_lva == in_extension
        assert not set(in_lva) & {path.name for path in Path("/dev/shm").iterdir()}
    else:
        assert in_lva == []
    for message in messages:
        properties = message["applicationProperties"]
        assert properties["subject"] == f"/graphInstances/{INSTANCE}/processors/grpcExtension"
        [inference] = message["body"]["inferences"]
        assert inference["subtype"] == "colorIntensity"
    tags = {m["body"]["inferences"][0]["classification"]["tag"]["value"] for m in messages}
    assert tags == {"dark", "light"}  # the clip's dark and light scenes


@pytest.mark.containers
@pytest.mark.timeout(1500)
def test_missing_image_is_one_line_and_deploys_nothing(tmp_path: Path) -> None:
    build_images()
    (tmp_path / "config").mkdir()
    rendered = run(sys.executable, RENDERER, "--template", TEMPLATE, "--env-file",
                   env_file(tmp_path), "--output-dir", tmp_path / "config")  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    manifest = tmp_path / "config" / "deployment.grpc.amd64.json"
    with local_device_lock():
        done = run(BIN / "lva-simulator", "deploy", manifest,
                   "--simulator-image", "localhost/lva-simulator:missing",
                   "--device-dir", tmp_path / "device")  # fmt: skip
        left = device_containers()

    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "lva-simulator deploy: not on this machine: localhost/lva-simulator:missing; no registry"
        " is reached here: build them with scripts/build-images.sh amd64 --with-simulator"
    ]
    assert left == []


@pytest.mark.containers
def test_remove_with_nothing_deployed_says_so() -> None:
    with local_device_lock():
        done = run(BIN / "lva-simulator", "remove")

    assert done.returncode == 0, done.stderr
    assert done.stdout == "nothing deployed here\n"


@pytest.mark.containers
@pytest.mark.timeout(1500)
def test_a_new_deployment_replaces_ours_but_not_a_container_of_someone_else(
    tmp_path: Path,
) -> None:
    build_images()
    with local_device_lock(), deployed(tmp_path) as device:
        again = run(BIN / "lva-simulator", "deploy", device.manifest, "--device-dir",
                    device.folder.parent, "--hub-port", str(free_port()), timeout=300)  # fmt: skip
        assert again.returncode == 0, again.stdout + again.stderr
        assert "replacing the deployment that was here" in again.stdout
        assert "grpcExtension: healthy" in again.stdout
        assert sorted(device_containers()) == ["grpcExtension", "lvaEdge"]

        assert run(BIN / "lva-simulator", "remove").returncode == 0
        foreign = podman("create", "--name", "grpcExtension", EXTENSION_IMAGE)
        assert foreign.returncode == 0, foreign.stderr
        try:
            refused = run(BIN / "lva-simulator", "deploy", device.manifest)
            still_there = podman("container", "exists", "grpcExtension").returncode == 0
        finally:
            podman("rm", "--force", "grpcExtension")

    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        "lva-simulator deploy: a container named grpcExtension exists that lva-simulator did"
        " not make: remove it first (podman rm -f grpcExtension)"
    ]
    assert still_there
