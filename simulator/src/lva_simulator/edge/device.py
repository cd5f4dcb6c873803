"""The local device: the placed modules as podman containers, as the IoT Edge agent makes them.

Containers are named after their modules (so ``IpcMode: container:lvaEdge`` and
``tcp://grpcExtension:5001`` mean what they mean on a device), join one network
with DNS (``azure-iot-edge``, the agent's own), get the module's createOptions,
its ``env``, the agent's ``IOTEDGE_*`` variables and a restart policy, and start
in ``startupOrder``. The simulator stands in for the LVA module: its state
folder (connection string, certificate, messages) is bind-mounted from the
device folder and its HTTPS port published on 127.0.0.1 for direct methods.
Everything made here is labelled, so that ``remove`` (or a new deployment)
takes away exactly that.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .create_options import binds, container_options
from .manifest import Module
from .placement import Placement, Role, place
from .podman import Podman, PodmanError

DEVICE_LABEL = "lva-simulator.device"  # on every container and network made here
ORDER_LABEL = "lva-simulator.startup-order"
SIMULATOR_HOME = "/var/lib/lva-simulator"  # the stand-in's state and messages, inside
SIMULATOR_PORT = 8443  # the stand-in's HTTPS port, inside
LVA_UID = 1010  # the LVA module's user; the stand-in's image runs as it too
RESTART = {"always": "always", "on-failure": "on-failure", "on-unhealthy": "always", "never": "no"}


class DeviceError(RuntimeError):
    """The device cannot be deployed as asked; one line that says why and what to do."""


@dataclass(frozen=True)
class DeviceOptions:
    device_dir: Path  # on the host: the stand-in's folder, <device_dir>/<LVA module>
    simulator_image: str
    hub_port: int = 8443  # on 127.0.0.1
    device_id: str = "lva-sim-device"
    network: str = "azure-iot-edge"
    lva_module: str | None = None  # found by its image when not given
    wait_seconds: float = 90  # for the hub to answer and healthchecks to pass

    @property
    def hub_address(self) -> str:
        return f"127.0.0.1:{self.hub_port}"


@dataclass(frozen=True)
class Container:
    """One module as podman will create it."""

    placement: Placement
    arguments: list[str]  # for `podman create`
    bind_sources: list[str]  # host folders its binds need

    @property
    def name(self) -> str:
        return self.placement.module.name

    @property
    def image(self) -> str:
        return self.arguments[self.arguments.index("--") + 1]


class LocalDevice:
    def __init__(
        self, podman: Podman, options: DeviceOptions, say: Callable[[str], None] = print
    ) -> None:
        self.podman = podman
        self.options = options
        self.say = say

    def hub_folder(self, lva_module: str) -> Path:
        return self.options.device_dir / lva_module

    # ---- deploy --------------------------------------------------------------------------

    def deploy(self, modules: Sequence[Module]) -> None:
        """Replace what was deployed here by ``modules``; return once all are up."""
        placements = place(modules, self.options.lva_module)
        for placement in placements:
            if placement.role is Role.SKIP:
                self.say(f"{placement.module.name}: skipped: {placement.why}")
        # Everything is checked before anything is changed.
        containers = [self._container(p, placements) for p in _in_startup_order(placements)]
        self._check_images(containers)
        ours = self.podman.containers_with_label(DEVICE_LABEL)
        for container in containers:
            if container.name not in ours and self.podman.container_exists(container.name):
                raise DeviceError(
                    f"a container named {container.name} exists that lva-simulator did not"
                    f" make: remove it first (podman rm -f {container.name})"
                )
        if ours:
            self.say("replacing the deployment that was here")
            self.remove()
        self._ensure_network()
        try:
            for container in containers:
                self._make_folders(container)
                self._create(container)
            self._wait_until_ready(containers)
        except (DeviceError, PodmanError) as error:
            # What was made stays, for `podman logs`, as a device keeps its modules.
            raise DeviceError(f"{error} (lva-simulator remove takes away what was made)") from None

    def _container(self, placement: Placement, placements: Sequence[Placement]) -> Container:
        module, options = placement.module, self.options
        translated = container_options(module.create_options, module.name)
        arguments = [
            "create",
            "--name", module.name,
            "--label", f"{DEVICE_LABEL}={options.device_id}",
            "--label", f"{ORDER_LABEL}={module.startup_order}",
            "--pull", "never",
            "--restart", RESTART[module.restart_policy],
            "--network", translated.network or options.network,
            "--env", f"IOTEDGE_DEVICEID={options.device_id}",
            "--env", f"IOTEDGE_MODULEID={module.name}",
            "--env", f"IOTEDGE_IOTHUBHOSTNAME={options.hub_address}",
        ]  # fmt: skip
        if module.restart_policy == "on-unhealthy":
            arguments += ["--health-on-failure", "restart"]
        arguments += translated.options
        # The manifest's env comes after createOptions' Env, and wins, as with the agent.
        for name, value in module.env.items():
            arguments += ["--env", f"{name}={value}"]
        unapplied, sources = translated.unapplied, translated.bind_sources
        if placement.role is Role.STAND_IN:
            if translated.command:
                unapplied = [*unapplied, "Cmd (the simulator's own command runs)"]
            lent = [
                bind
                for other in placements
                if other.lends_binds
                for bind in binds(other.module.create_options, other.module.name)
            ]
            arguments += self._stand_in(module, lent)
            sources = [*sources, *(source for source, _ in lent)]
        else:
            arguments += ["--", module.image, *translated.command]
        if unapplied:
            self.say(f"{module.name}: createOptions not applied here: {', '.join(unapplied)}")
        return Container(placement, arguments, sources)

    def _stand_in(self, module: Module, lent: Sequence[tuple[str, str]]) -> list[str]:
        """The simulator in the LVA module's place: its folder, its port, the folders other
        modules lend it (read-only), its command."""
        options = self.options
        arguments = [
            "--volume", f"{self.hub_folder(module.name)}:{SIMULATOR_HOME}",
            "--publish", f"{options.hub_address}:{SIMULATOR_PORT}",
        ]  # fmt: skip
        for source, target in lent:
            arguments += ["--volume", f"{source}:{target}:ro"]
        return [
            *arguments,
            "--",
            options.simulator_image,
            "serve",
            "--host", "0.0.0.0",
            "--port", str(SIMULATOR_PORT),
            "--public-address", options.hub_address,
            "--state-dir", SIMULATOR_HOME,
            "--device-id", options.device_id,
            "--module-id", module.name,
            "--sink-output", f"{SIMULATOR_HOME}/messages.jsonl",
            # Its web view would listen on the container's own loopback, out of reach.
            "--no-web",
        ]  # fmt: skip

    def _make_folders(self, container: Container) -> None:
        if container.placement.role is Role.STAND_IN:
            folder = self.hub_folder(container.name)
            folder.mkdir(parents=True, exist_ok=True)
            os.chown(folder, LVA_UID, LVA_UID)  # the simulator runs as LVA's user
        # Docker, and so IoT Edge, makes a missing bind source as an empty folder; podman
        # refuses it. Do as Docker does.
        for source in container.bind_sources:
            path = Path(source)
            if not path.exists():
                path.mkdir(parents=True)
                note = "as Docker would, owned by root"
                if container.placement.role is Role.STAND_IN:
                    note += f"; for LVA (uid {LVA_UID}) to write there: chown {LVA_UID} {path}"
                self.say(f"{container.name}: made the missing folder {path} ({note})")

    def _check_images(self, containers: Sequence[Container]) -> None:
        images = [c.image for c in containers if not self.podman.image_exists(c.image)]
        if images:
            raise DeviceError(
                f"not on this machine: {', '.join(images)}; no registry is reached here: build"
                " them with scripts/build-images.sh amd64 --with-simulator"
            )

    def _ensure_network(self) -> None:
        network, label = self.options.network, f"{DEVICE_LABEL}={self.options.device_id}"
        if not self.podman.network_exists(network):
            self.podman.run(["network", "create", "--label", label, network])

    def _create(self, container: Container) -> None:
        placement = container.placement
        self.podman.run(container.arguments)
        what = (
            f"the simulator ({self.options.simulator_image}) in place of {placement.module.image}"
            if placement.role is Role.STAND_IN
            else placement.module.image
        )
        if placement.module.status == "stopped":
            self.say(f"{container.name}: created, not started (status stopped): {what}")
            return
        self.podman.run(["start", container.name])
        self.say(f"{container.name}: started: {what}")

    def _wait_until_ready(self, containers: Sequence[Container]) -> None:
        deadline = time.monotonic() + self.options.wait_seconds
        unhealthy = []
        for container in containers:
            if container.placement.module.status == "stopped":
                continue
            if container.placement.role is Role.STAND_IN:
                self._wait_for_hub(container.name, deadline)
            elif self.podman.inspect(container.name)["Config"].get("Healthcheck"):
                if self._wait_for_health(container.name, deadline):
                    self.say(f"{container.name}: healthy")
                else:
                    unhealthy.append(container.name)
        if unhealthy:
            raise DeviceError(
                f"not healthy after {self.options.wait_seconds:.0f} s: {', '.join(unhealthy)};"
                f" see podman logs {unhealthy[0]}"
            )

    def _wait_for_hub(self, name: str, deadline: float) -> None:
        connection_string = self.hub_folder(name) / "connection-string.txt"
        while not connection_string.is_file():
            self._check_running(name)
            if time.monotonic() > deadline:
                raise DeviceError(f"{name}: the simulator did not answer; see podman logs {name}")
            time.sleep(0.2)
        folder = self.hub_folder(name)
        self.say(f"{name}: IoT Hub on https://{self.options.hub_address} for device"
                 f" {self.options.device_id}, module {name}")  # fmt: skip
        self.say(f"  connection string: {connection_string}")
        self.say(f"  CA bundle (REQUESTS_CA_BUNDLE): {folder / 'hub-cert.pem'}")
        self.say(f"  messages: {folder / 'messages.jsonl'}")

    def _wait_for_health(self, name: str, deadline: float) -> bool:
        while not self.podman.healthy(name):
            self._check_running(name)
            if time.monotonic() > deadline:
                return False
            time.sleep(1)
        return True

    def _check_running(self, name: str) -> None:
        state = self.podman.inspect(name)["State"]
        if not state.get("Running") and not state.get("Restarting"):
            last = self.podman.run(["logs", "--tail", "1", name], timeout=30).strip()
            raise DeviceError(
                f"{name} exited with code {state.get('ExitCode')}: {last or '(no output)'}"
            )

    # ---- remove --------------------------------------------------------------------------

    def remove(self) -> list[str]:
        """Remove the containers and the network made here, dependents first; their names."""
        containers = self.podman.containers_with_label(DEVICE_LABEL)

        def order(name: str) -> int:
            return int(containers[name].get(ORDER_LABEL, "0"))

        # Later modules first: they may have joined an earlier one's IPC namespace.
        for name in sorted(containers, key=order, reverse=True):
            self.podman.remove(name)
            self.say(f"{name}: removed")
        network = self.options.network
        # A network of the user's own stays; only the one made here goes.
        if self.podman.network_exists(network) and DEVICE_LABEL in self.podman.network_labels(
            network
        ):
            self.podman.run(["network", "rm", network])
        return list(containers)


def _in_startup_order(placements: Sequence[Placement]) -> list[Placement]:
    running = [p for p in placements if p.role is not Role.SKIP]
    return sorted(running, key=lambda p: p.module.startup_order)
