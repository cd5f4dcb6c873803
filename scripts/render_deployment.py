#!/usr/bin/env python3
"""Render an IoT Edge deployment manifest from a template, like the VS Code Azure IoT Edge
extension's "Generate IoT Edge Deployment Manifest" and `iotedgedev solution genconfig`, but
strict: an unset variable, an unresolved placeholder, a createOptions over 4 KiB, a platform
missing from module.json or a manifest that breaks the IoT Edge schema is an error.

    python scripts/render_deployment.py --template deployment.grpc.template.json \\
        --env-file .env --platform amd64 --output-dir config
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from deployment.envfile import load_variables
from deployment.errors import DeploymentError
from deployment.layered import az_command, layered_deployment
from deployment.render import render_manifest
from deployment.transfer import (
    DEFAULT_GRAPH_INSTANCES,
    DEFAULT_SHARED_MEMORY_MIB,
    HEADROOM_MIB,
    TRANSFER_MODES,
    IpcLayout,
)
from deployment.validate import validate_layered

EPILOG = f"""\
transfer modes (--transfer-mode; without it the template's IPC settings are kept and the
output equals what VS Code and iotedgedev generate from the same files):
  shared-memory       lvaEdge: IpcMode shareable, ShmSize = SharedMemorySizeMiB x graph
                      instances + {HEADROOM_MIB} MiB; extension: IpcMode container:<lva module>
  shared-memory-host  both: IpcMode host (the host's /dev/shm; ShmSize does not apply)
  embedded            no IPC settings: frames travel inside the gRPC messages

at scale: --layered also writes <name>.<platform>.layered.json, a layered deployment for
`az iot edge deployment create --layered`, and prints that command.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, like every other error of this command.
        self.exit(2, f"error: {message} (see --help)\n")


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _positive(text: str) -> int:
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _non_negative(text: str) -> int:
    value = _whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="render_deployment.py",
        description=(
            "Expand an IoT Edge deployment template into <output-dir>/<name>.<platform>.json:\n"
            "variables from the env file and the environment, ${MODULES.<folder>[.<platform>]}\n"
            "from modules/<folder>/module.json, createOptions cut into 512-character chunks;\n"
            "the result is validated against the IoT Edge deployment schema before it is written."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--template",
        type=Path,
        default=Path("deployment.grpc.template.json"),
        help="deployment template (default: %(default)s)",
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        help="variables for the template (default: .env beside the template)",
    )
    parser.add_argument(
        "--env-precedence",
        choices=("file", "environment"),
        default="file",
        help="which wins when a variable is in both the env file and the environment: "
        "'file' as VS Code does, 'environment' as iotedgedev does (default: %(default)s)",
    )
    parser.add_argument(
        "--platform",
        default="amd64",
        help="platform of ${MODULES.<folder>} images, a key of module.json's platforms "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        help="where to write the manifest (default: config beside the template)",
    )
    ipc = parser.add_argument_group("transfer mode and IPC layout")
    ipc.add_argument(
        "--transfer-mode",
        choices=TRANSFER_MODES,
        help="rewrite the IPC settings of the LVA and extension modules (see below)",
    )
    ipc.add_argument(
        "--shared-memory-mib",
        type=_positive,
        default=DEFAULT_SHARED_MEMORY_MIB,
        help="the topology's SharedMemorySizeMiB (default: %(default)s)",
    )
    ipc.add_argument(
        "--graph-instances",
        type=_positive,
        default=DEFAULT_GRAPH_INSTANCES,
        help="graph instances that may run at once, each with its own buffer "
        "(default: %(default)s)",
    )
    ipc.add_argument(
        "--lva-module", default="lvaEdge", help="the LVA module's name (default: %(default)s)"
    )
    ipc.add_argument(
        "--extension-module",
        default="grpcExtension",
        help="the extension module's name (default: %(default)s)",
    )
    scale = parser.add_argument_group("at-scale (layered) deployment")
    scale.add_argument("--layered", action="store_true", help="also write a layered deployment")
    scale.add_argument(
        "--target-condition",
        default="",
        help="devices the layered deployment applies to, e.g. \"tags.lva='true'\" "
        "(required with --layered)",
    )
    scale.add_argument(
        "--priority",
        type=_non_negative,
        default=10,
        help="must be above the priority of the devices' base deployment (default: %(default)s)",
    )
    scale.add_argument(
        "--deployment-id",
        help="IoT Hub deployment id (default: the manifest name and a hash of the content, e.g. "
        "deployment-grpc-amd64-1a2b3c4d)",
    )
    return parser


def run(args: argparse.Namespace) -> list[Path]:
    template: Path = args.template
    env_file: Path = args.env_file or template.parent / ".env"
    output_dir: Path = args.output_dir or template.parent / "config"
    variables = load_variables(env_file, os.environ, args.env_precedence)
    ipc = None
    if args.transfer_mode:
        ipc = IpcLayout(
            args.transfer_mode,
            lva_module=args.lva_module,
            extension_module=args.extension_module,
            shared_memory_mib=args.shared_memory_mib,
            graph_instances=args.graph_instances,
        )
    manifest, name = render_manifest(template, variables, args.platform, ipc)
    outputs = {output_dir / name: manifest}
    commands: list[str] = []
    if args.layered:
        stem = name.removesuffix(".json")
        layered = layered_deployment(
            manifest,
            name=stem,
            deployment_id=args.deployment_id,
            target_condition=args.target_condition,
            priority=args.priority,
        )
        layered_path = output_dir / f"{stem}.layered.json"
        validate_layered(layered, layered_path.name)
        outputs[layered_path] = layered
        commands.append(az_command(layered, str(layered_path)))
    for path, document in outputs.items():
        _write_json(path, document)
        print(f"wrote {path}")
    for command in commands:
        print(command)
    return list(outputs)


def _write_json(path: Path, document: Any) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        raise DeploymentError(f"cannot write {path}: {error.strerror}") from error


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except DeploymentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
