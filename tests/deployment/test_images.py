"""scripts/build-images.sh: the module's image really built from its Dockerfile and run.

The build and its smoke test run once per session (tests.support.containers.build_images);
these tests read what it printed, as a user does, and look at the image with podman.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.deployment.test_module_image import run_hadolint
from tests.support.containers import (
    BUILD_IMAGES,
    EXTENSION_IMAGE,
    SIMULATOR_IMAGE,
    build_images,
    podman,
)
from tests.support.paths import REPO

SMOKE_TEST = REPO / "scripts" / "containers" / "smoke-test.sh"


@pytest.mark.parametrize(
    "line",
    [
        r"== amd64: localhost/grpcextension:1\.0\.0-amd64",
        r"base docker\.io/amd64/python:3\.12\.8-slim-bookworm: (official|stand-in)",
        r"healthcheck: healthy",
        r"PID 1: \S*python\S* \S*/lva-extension serve as uid 1010",
        r"embedded: 30/30 frames acknowledged",
        r"shared memory: 30/30 frames acknowledged",
        r"shared memory without the IPC namespace: refused \(NOT_FOUND\)",
        r"SIGTERM: the stream in flight drained \(90/90 frames acknowledged.*\), then exit code 0",
        r"size: \d+ MB",
        r"== the simulator, for lva-simulator deploy: localhost/lva-simulator:1\.0\.0",
    ],
)
@pytest.mark.containers
@pytest.mark.timeout(1500)
def test_build_and_smoke_test_pass(line: str) -> None:
    assert re.search(line, build_images().output), build_images().output


@pytest.mark.containers
@pytest.mark.timeout(1500)
def test_image_keeps_dockerfile_health_check_user_and_entrypoint() -> None:
    build_images()
    inspected = json.loads(podman("image", "inspect", EXTENSION_IMAGE).stdout)[0]
    config = inspected["Config"]

    # --format docker: an OCI image would have dropped the HEALTHCHECK.
    assert inspected["ManifestType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert inspected["Healthcheck"]["Test"] == ["CMD", "lva-extension", "health"]
    assert config["User"] == "1010:1010"
    assert config["Entrypoint"] == ["lva-extension"] and config["Cmd"] == ["serve"]
    assert "5001/tcp" in config["ExposedPorts"]
    assert inspected["Architecture"] == "amd64"
    # The simulator's image is built on it, and runs as LVA's user.
    simulator = json.loads(podman("image", "inspect", SIMULATOR_IMAGE).stdout)[0]["Config"]
    assert simulator["User"] == "1010:1010"
    assert simulator["Entrypoint"] == ["lva-simulator"]


@pytest.mark.containers
@pytest.mark.timeout(1500)
def test_smoke_test_fails_an_image_that_runs_as_root(tmp_path: Path) -> None:
    build_images()
    (tmp_path / "Containerfile").write_text(f"FROM {EXTENSION_IMAGE}\nUSER 0:0\n")
    # Named per test run: concurrent runs on one machine must not see each other's containers.
    image = f"localhost/lva-smoke-test-as-root:{os.getpid()}"
    built = podman("build", "--pull=never", "--format", "docker", "-t", image, str(tmp_path))
    assert built.returncode == 0, built.stderr
    try:
        done = subprocess.run(
            [str(SMOKE_TEST), image], capture_output=True, text=True, timeout=300, check=False
        )
        # Nothing is left behind by a failed smoke test.
        left = podman("ps", "--all", "--filter", f"ancestor={image}", "--format", "{{.Names}}")
    finally:
        podman("rmi", "--force", image)

    assert done.returncode == 1
    assert f"smoke-test {image}: FAILED: PID 1 runs as uid 0, not 1010" in done.stderr
    assert left.stdout.split() == []


def test_simulator_dockerfile_passes_hadolint(tmp_path: Path) -> None:
    # From an empty folder, so that no stray .hadolint.yaml relaxes the rules.
    assert run_hadolint(REPO / "simulator" / "Dockerfile", cwd=tmp_path) == []


def test_unknown_platform_is_one_line_error() -> None:
    done = subprocess.run(
        [str(BUILD_IMAGES), "sparc"], capture_output=True, text=True, timeout=30, check=False
    )

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "build-images: unknown argument 'sparc' (amd64, arm64v8, all, --with-simulator)"
    ]
