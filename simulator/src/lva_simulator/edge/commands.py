"""``lva-simulator deploy`` and ``lva-simulator remove``: the local edge device's commands."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import __version__
from .device import DeviceError, DeviceOptions, LocalDevice
from .manifest import ManifestError, read_manifest
from .podman import Podman, PodmanError

DEFAULT_IMAGE = f"localhost/lva-simulator:{__version__}"
Command = Callable[[argparse.Namespace], int]


def _device(args: argparse.Namespace) -> LocalDevice:
    from ..app import default_state_dir  # the simulator itself: only when a command runs

    if os.geteuid() != 0:
        # Rootless podman has stores of its own, without what root's podman built and made.
        raise DeviceError("needs root podman: run it with sudo, as scripts/build-images.sh")
    options = DeviceOptions(
        device_dir=(getattr(args, "device_dir", None) or default_state_dir() / "device").absolute(),
        simulator_image=getattr(args, "simulator_image", DEFAULT_IMAGE),
        hub_port=getattr(args, "hub_port", 8443),
        device_id=getattr(args, "device_id", "lva-sim-device"),
        network=args.network,
        lva_module=getattr(args, "lva_module", None),
    )
    return LocalDevice(Podman(), options, say=lambda line: print(line, flush=True))


def _deploy(args: argparse.Namespace) -> int:
    if not 1 <= args.hub_port <= 65535:
        raise ManifestError(f"--hub-port: expected 1 to 65535, got {args.hub_port}")
    device = _device(args)
    device.deploy(read_manifest(args.manifest))
    print(f"deployed {args.manifest}; take it down with: lva-simulator remove", flush=True)
    return 0


def _remove(args: argparse.Namespace) -> int:
    if not _device(args).remove():
        print("nothing deployed here", flush=True)
    return 0


def _guarded(command: Command) -> Command:
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except (ManifestError, DeviceError, PodmanError) as error:
            print(f"lva-simulator {args.command}: {error}", file=sys.stderr)
            return 1

    return run


def add_edge_commands(commands: Any) -> None:
    """Add ``deploy`` and ``remove`` to the ``lva-simulator`` subcommands."""
    deploy = commands.add_parser(
        "deploy",
        help="run a deployment manifest's modules here with podman, the simulator as LVA",
        description="Play the IoT Edge agent for a rendered deployment manifest on this machine:"
        " create its modules as podman containers named after them (createOptions, env,"
        " startupOrder, restartPolicy) on the network azure-iot-edge, with the simulator in the"
        " place of the LVA module. Images hosted by Microsoft are not pulled: edgeAgent and"
        " edgeHub are played by this command and the simulator, rtspsim is left out (its videos"
        " are mounted into the simulator). A deployment that was here is replaced. Needs"
        " root podman (scripts/containers/setup.sh) and the images of"
        " scripts/build-images.sh amd64 --with-simulator.",
    )
    deploy.add_argument("manifest", type=Path, help="e.g. config/deployment.grpc.amd64.json")
    deploy.add_argument(
        "--hub-port",
        type=int,
        default=8443,
        help="the simulator's HTTPS port (direct methods), published on 127.0.0.1 [8443]",
    )
    deploy.add_argument(
        "--simulator-image", default=DEFAULT_IMAGE, help=f"the simulator's image [{DEFAULT_IMAGE}]"
    )
    deploy.add_argument(
        "--device-id", default="lva-sim-device", help="the edge device's id [lva-sim-device]"
    )
    deploy.add_argument(
        "--lva-module",
        help="the module the simulator stands in for [the one with an LVA image]",
    )
    remove = commands.add_parser(
        "remove",
        help="remove what lva-simulator deploy made here",
        description="Stop (SIGTERM, then 10 s) and remove the containers and the network that"
        " lva-simulator deploy made; the device folder (state, messages) is kept.",
    )
    deploy.add_argument(
        "--device-dir",
        type=Path,
        help="where the simulator's state and messages go [$XDG_STATE_HOME/lva-simulator/device]",
    )
    for command in (deploy, remove):
        command.add_argument(
            "--network", default="azure-iot-edge", help="the modules' network [azure-iot-edge]"
        )
    deploy.set_defaults(run=_guarded(_deploy))
    remove.set_defaults(run=_guarded(_remove))
