"""The podman commands the local device runs, each failure one line.

Rootful podman (Debian's, with runc and netavark; ``scripts/containers/setup.sh``
configures it). Every call is a ``podman`` process, as a user would type it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any


class PodmanError(RuntimeError):
    """A podman command that failed; the message is podman's own error line."""


def _error_line(stderr: str) -> str:
    # podman also logs that it cannot reach systemd for healthcheck timers (none runs
    # here): not the error.
    lines = [line for line in stderr.splitlines() if line.strip() and "systemd" not in line]
    errors = [line for line in lines if line.startswith("Error:")]
    return (errors or lines or ["no error message"])[-1].removeprefix("Error: ")


class Podman:
    def __init__(self, executable: str = "podman") -> None:
        self.executable = executable

    def available(self) -> bool:
        return shutil.which(self.executable) is not None

    def run(self, arguments: Sequence[str], timeout: float = 120) -> str:
        """Run ``podman ARGUMENTS``; its standard output, or PodmanError."""
        try:
            done = subprocess.run(
                [self.executable, *arguments],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError:
            raise PodmanError(
                f"{self.executable} is not installed (scripts/containers/setup.sh installs it)"
            ) from None
        except subprocess.TimeoutExpired:
            raise PodmanError(f"podman {arguments[0]} took over {timeout:.0f} s") from None
        if done.returncode != 0:
            raise PodmanError(f"podman {arguments[0]}: {_error_line(done.stderr)}")
        return done.stdout

    def succeeds(self, arguments: Sequence[str], timeout: float = 60) -> bool:
        try:
            self.run(arguments, timeout)
        except PodmanError:
            return False
        return True

    def image_exists(self, image: str) -> bool:
        return self.succeeds(["image", "exists", image])

    def container_exists(self, name: str) -> bool:
        return self.succeeds(["container", "exists", name])

    def network_exists(self, name: str) -> bool:
        return self.succeeds(["network", "exists", name])

    def inspect(self, name: str) -> dict[str, Any]:
        found = json.loads(self.run(["container", "inspect", name]))
        if not isinstance(found, list) or not found or not isinstance(found[0], dict):
            raise PodmanError(f"podman container inspect: nothing about {name}")
        return found[0]

    def network_labels(self, name: str) -> dict[str, str]:
        found = json.loads(self.run(["network", "inspect", "--format", "{{json .Labels}}", name]))
        return dict(found or {})

    def containers_with_label(self, label: str) -> dict[str, dict[str, str]]:
        """The containers (running or not) that carry ``label``: name -> labels."""
        out = self.run(["ps", "--all", "--filter", f"label={label}", "--format", "json"])
        return {c["Names"][0]: dict(c.get("Labels") or {}) for c in json.loads(out or "[]")}

    def healthy(self, name: str) -> bool:
        """Run the container's healthcheck once (podman runs it on a timer only with systemd)."""
        return self.succeeds(["healthcheck", "run", name])

    def remove(self, name: str) -> None:
        self.run(["rm", "--force", "--time", "10", name])
