"""A deployment manifest as the IoT Edge agent reads it: the modules and how to run them.

The manifest is the one a renderer writes (``config/deployment.<name>.<platform>.json``):
``modulesContent.$edgeAgent["properties.desired"]`` with ``systemModules`` and
``modules``, each module's ``createOptions`` serialized and cut into
``createOptions``, ``createOptions01`` ... ``createOptions07``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESTART_POLICIES = ("never", "on-failure", "on-unhealthy", "always")
LAST = 4294967295  # the agent's startupOrder when none is given: after every other module
_CHUNK = re.compile(r"^createOptions(0[1-7])?$")


class ManifestError(ValueError):
    """A manifest that cannot be deployed; the message names the file and the field."""


@dataclass(frozen=True)
class Module:
    """One module of ``$edgeAgent``: its image and how the agent creates and keeps it."""

    name: str
    image: str
    status: str = "running"  # running | stopped
    restart_policy: str = "always"
    startup_order: int = LAST
    env: dict[str, str] = field(default_factory=dict)
    create_options: dict[str, Any] = field(default_factory=dict)
    system: bool = False  # edgeAgent or edgeHub


def read_manifest(path: Path) -> list[Module]:
    """The system modules, then the modules, of the manifest at ``path``."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(
            f"{path}: no such file (render it: scripts/render_deployment.py)"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ManifestError(f"{path}: not a JSON deployment manifest ({error})") from None
    agent = _object(document, "modulesContent", path)
    agent = _object(agent, "$edgeAgent", path)
    if any(key.startswith("properties.desired.") for key in agent):
        raise ManifestError(
            f"{path}: a layered deployment (properties.desired.*) only adds to a base"
            " deployment; deploy the full manifest"
        )
    desired = _object(agent, "properties.desired", path)
    system = _object(desired, "systemModules", path)
    modules = _object(desired, "modules", path)
    return [_module(name, spec, path, system=True) for name, spec in system.items()] + [
        _module(name, spec, path, system=False) for name, spec in modules.items()
    ]


def join_create_options(settings: dict[str, Any], where: str) -> dict[str, Any]:
    """``createOptions`` (an object, or the string cut into chunks 01 to 07) as an object."""
    chunks = {key: value for key, value in settings.items() if _CHUNK.match(key)}
    if not chunks:
        return {}
    whole = chunks.get("createOptions")
    if isinstance(whole, dict) and len(chunks) == 1:
        return whole  # a template, not yet rendered
    names = ["createOptions"] + [f"createOptions{i:02d}" for i in range(1, len(chunks))]
    if sorted(chunks) != names:
        raise ManifestError(
            f"{where}: createOptions chunks must follow each other from createOptions,"
            f" got {', '.join(sorted(chunks))}"
        )
    if not all(isinstance(chunks[name], str) for name in names):
        raise ManifestError(f"{where}: createOptions chunks must be strings")
    try:
        joined = json.loads("".join(chunks[name] for name in names))
    except json.JSONDecodeError as error:
        raise ManifestError(f"{where}: createOptions is not JSON once joined ({error})") from None
    if not isinstance(joined, dict):
        raise ManifestError(f"{where}: createOptions must be a JSON object")
    return joined


def _object(parent: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = parent.get(key) if isinstance(parent, dict) else None
    if not isinstance(value, dict):
        raise ManifestError(f"{path}: expected an object at {key!r}")
    return value


def _module(name: str, spec: Any, path: Path, *, system: bool) -> Module:
    where = f"{path}: module {name}"
    if not isinstance(spec, dict):
        raise ManifestError(f"{where}: expected an object")
    settings = spec.get("settings")
    if not isinstance(settings, dict) or not isinstance(settings.get("image"), str):
        raise ManifestError(f"{where}: settings.image must be a string")
    image = settings["image"]
    if "$" in image:
        raise ManifestError(f"{where}: image {image!r} still has a placeholder: render it first")
    policy = spec.get("restartPolicy", "always")
    if policy not in RESTART_POLICIES:
        raise ManifestError(
            f"{where}: restartPolicy must be one of {', '.join(RESTART_POLICIES)}, got {policy!r}"
        )
    status = spec.get("status", "running")
    if status not in ("running", "stopped"):
        raise ManifestError(f"{where}: status must be running or stopped, got {status!r}")
    order = spec.get("startupOrder", LAST)
    if not isinstance(order, int) or isinstance(order, bool) or not 0 <= order <= LAST:
        raise ManifestError(f"{where}: startupOrder must be an integer from 0 to {LAST}")
    return Module(
        name=name,
        image=image,
        status=status,
        restart_policy=policy,
        startup_order=order,
        env=_env(spec.get("env", {}), where),
        create_options=join_create_options(settings, where),
        system=system,
    )


def _env(env: Any, where: str) -> dict[str, str]:
    if not isinstance(env, dict):
        raise ManifestError(f"{where}: env must be an object")
    values = {}
    for name, entry in env.items():
        value = entry.get("value") if isinstance(entry, dict) else None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ManifestError(f'{where}: env.{name} must be {{"value": ...}}')
        values[name] = str(value)
    return values
