"""Real containers for the tests: root podman, the images scripts/build-images.sh makes, and a
lock, because container names (lvaEdge, grpcExtension) are one per machine."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

from tests.support.paths import REPO

BUILD_IMAGES = REPO / "scripts" / "build-images.sh"
EXTENSION_IMAGE = "localhost/grpcextension:1.0.0-amd64"
SIMULATOR_IMAGE = "localhost/lva-simulator:1.0.0"
DEVICE_LABEL = "lva-simulator.device"
LOCK = "/tmp/lva-simulator-local-device.lock"


@cache
def why_no_podman() -> str | None:
    """Why the container tests cannot run here, or None when they can."""
    if shutil.which("podman") is None:
        return "podman is not installed (scripts/containers/setup.sh installs it, as root)"
    if os.geteuid() != 0:
        return "the container tests need root podman"
    info = subprocess.run(["podman", "info"], capture_output=True, text=True, check=False)
    if info.returncode != 0:
        return f"podman does not work here: {info.stderr.strip().splitlines()[-1:]}"
    return None


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@dataclass(frozen=True)
class BuiltImages:
    output: str  # what scripts/build-images.sh printed
    seconds: float


@cache
def build_images() -> BuiltImages:
    """``scripts/build-images.sh amd64 --with-simulator``, once per test session."""
    # The manifest the tests render names localhost/...: a .env of the developer's must not
    # change the tags.
    env = {**os.environ, "CONTAINER_REGISTRY_SERVER": "localhost", "CONTAINER_TAG": ""}
    started = time.monotonic()
    done = subprocess.run(
        [str(BUILD_IMAGES), "amd64", "--with-simulator"],
        capture_output=True,
        text=True,
        env=env,
        timeout=1500,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"scripts/build-images.sh failed:\n{output[-3000:]}"
    return BuiltImages(output, time.monotonic() - started)


@contextmanager
def local_device_lock() -> Iterator[None]:
    """One local device per machine at a time: other test runs wait here."""
    with open(LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def device_containers() -> list[str]:
    """Containers that lva-simulator deploy made and that are still here."""
    listed = podman("ps", "--all", "--filter", f"label={DEVICE_LABEL}", "--format", "{{.Names}}")
    return listed.stdout.split()
