"""A module's ``createOptions`` (the body of Docker's container-create call) as podman options.

The fields deployment manifests use are applied: ``Env``, ``Cmd``, ``Entrypoint``,
``User``, ``WorkingDir``, ``Hostname``, ``Labels``, ``ExposedPorts``, ``StopSignal``,
``StopTimeout``, and in ``HostConfig`` ``IpcMode``, ``ShmSize``, ``Binds``, ``Mounts``,
``PortBindings``, ``NetworkMode``, ``LogConfig``, ``Privileged``, ``CapAdd``,
``CapDrop``, ``Devices``, ``Memory``, ``NanoCpus``, ``ExtraHosts``, ``Tmpfs``. Any other
field is listed as not applied, so the user sees what the local device leaves out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .manifest import ManifestError


@dataclass
class ContainerOptions:
    """What ``podman create`` is given for one module's createOptions."""

    options: list[str] = field(default_factory=list)
    command: list[str] = field(default_factory=list)  # Cmd: after the image
    bind_sources: list[str] = field(default_factory=list)  # host folders of Binds and Mounts
    network: str | None = None  # HostConfig.NetworkMode, when set
    unapplied: list[str] = field(default_factory=list)  # dotted names of fields left out


Field = Callable[[ContainerOptions, Any, str], None]


def container_options(create_options: dict[str, Any], module: str) -> ContainerOptions:
    """Translate ``create_options``; ``module`` (where it comes from) begins error messages."""
    out = ContainerOptions()
    top = {name: value for name, value in create_options.items() if name != "HostConfig"}
    _apply(out, top, _TOP, module, "")
    if "HostConfig" in create_options:
        _apply(out, create_options["HostConfig"], _HOST_CONFIG, module, "HostConfig")
    return out


def binds(create_options: dict[str, Any], module: str) -> list[tuple[str, str]]:
    """The (source, target) pairs of ``HostConfig.Binds``."""
    host_config = create_options.get("HostConfig", {})
    found = host_config.get("Binds", []) if isinstance(host_config, dict) else []
    pairs = []
    for bind in _strings(found, f"{module}: createOptions.HostConfig.Binds"):
        source, _, rest = bind.partition(":")
        pairs.append((source, rest.partition(":")[0]))
    return pairs


def _apply(
    out: ContainerOptions, fields: Any, table: dict[str, Field], module: str, section: str
) -> None:
    if not isinstance(fields, dict):
        where = f"createOptions.{section}" if section else "createOptions"
        raise ManifestError(f"{module}: {where}: expected an object")
    for name, value in fields.items():
        path = f"{section}.{name}" if section else name
        handler = table.get(name)
        if handler is None:
            out.unapplied.append(path)
        else:
            handler(out, value, f"{module}: createOptions.{path}")


def _strings(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ManifestError(f"{where}: expected a list of strings")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ManifestError(f"{where}: expected a string, got {json.dumps(value)}")
    return value


def _integer(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ManifestError(f"{where}: expected a whole number, got {json.dumps(value)}")
    return value


def _flag(flag: str, convert: Callable[[Any, str], Any] = _string) -> Field:
    def handle(out: ContainerOptions, value: Any, where: str) -> None:
        out.options += [flag, str(convert(value, where))]

    return handle


def _repeated(flag: str) -> Field:
    def handle(out: ContainerOptions, value: Any, where: str) -> None:
        for item in _strings(value, where):
            out.options += [flag, item]

    return handle


def _env(out: ContainerOptions, value: Any, where: str) -> None:
    for item in _strings(value, where):
        if "=" not in item:
            raise ManifestError(f"{where}: expected NAME=value, got {item!r}")
        out.options += ["--env", item]


def _cmd(out: ContainerOptions, value: Any, where: str) -> None:
    out.command = _strings(value, where)


def _entrypoint(out: ContainerOptions, value: Any, where: str) -> None:
    out.options += ["--entrypoint", json.dumps(_strings(value, where))]


def _pairs(flag: str, value: Any, where: str) -> list[str]:
    """An object of strings as ``flag name=value`` for each of its members."""
    if not isinstance(value, dict):
        raise ManifestError(f"{where}: expected an object of strings")
    options = []
    for name, text in value.items():
        options += [flag, f"{name}={_string(text, f'{where}.{name}')}"]
    return options


def _labels(out: ContainerOptions, value: Any, where: str) -> None:
    out.options += _pairs("--label", value, where)


def _exposed_ports(out: ContainerOptions, value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise ManifestError(f'{where}: expected an object such as {{"5001/tcp": {{}}}}')
    for port in value:
        out.options += ["--expose", port]


def _binds(out: ContainerOptions, value: Any, where: str) -> None:
    for bind in _strings(value, where):
        source, _, rest = bind.partition(":")
        if not source or not rest:
            raise ManifestError(f"{where}: expected SOURCE:TARGET[:OPTIONS], got {bind!r}")
        if source.startswith("/"):
            out.bind_sources.append(source)
        out.options += ["--volume", bind]


def _mounts(out: ContainerOptions, value: Any, where: str) -> None:
    if not isinstance(value, list) or not all(isinstance(m, dict) for m in value):
        raise ManifestError(f"{where}: expected a list of objects")
    for mount in value:
        kind = mount.get("Type", "volume")
        target = _string(mount.get("Target"), f"{where}.Target")
        parts = [f"type={kind}", f"target={target}"]
        if "Source" in mount:
            source = _string(mount["Source"], f"{where}.Source")
            parts.append(f"source={source}")
            if kind == "bind":
                out.bind_sources.append(source)
        if mount.get("ReadOnly"):
            parts.append("ro")
        out.options += ["--mount", ",".join(parts)]


def _port_bindings(out: ContainerOptions, value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise ManifestError(f'{where}: expected an object such as {{"5001/tcp": [...]}}')
    for port, bindings in value.items():
        if not isinstance(bindings, list) or not all(isinstance(b, dict) for b in bindings):
            raise ManifestError(f'{where}.{port}: expected a list of {{"HostPort": ...}}')
        for binding in bindings:
            host_port = _string(binding.get("HostPort", ""), f"{where}.{port}.HostPort")
            host_ip = _string(binding.get("HostIp", ""), f"{where}.{port}.HostIp")
            out.options += ["--publish", f"{host_ip + ':' if host_ip else ''}{host_port}:{port}"]


def _network_mode(out: ContainerOptions, value: Any, where: str) -> None:
    out.network = _string(value, where)


def _log_config(out: ContainerOptions, value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise ManifestError(f'{where}: expected {{"Type": ..., "Config": {{...}}}}')
    if "Type" in value:
        out.options += ["--log-driver", _string(value["Type"], f"{where}.Type")]
    out.options += _pairs("--log-opt", value.get("Config", {}), f"{where}.Config")


def _privileged(out: ContainerOptions, value: Any, where: str) -> None:
    if not isinstance(value, bool):
        raise ManifestError(f"{where}: expected true or false")
    if value:
        out.options.append("--privileged")


def _devices(out: ContainerOptions, value: Any, where: str) -> None:
    if not isinstance(value, list) or not all(isinstance(d, dict) for d in value):
        raise ManifestError(f'{where}: expected a list of {{"PathOnHost": ...}}')
    for device in value:
        host = _string(device.get("PathOnHost"), f"{where}.PathOnHost")
        inside = _string(device.get("PathInContainer", host), f"{where}.PathInContainer")
        permissions = _string(device.get("CgroupPermissions", "rwm"), f"{where}.CgroupPermissions")
        out.options += ["--device", f"{host}:{inside}:{permissions}"]


def _nano_cpus(out: ContainerOptions, value: Any, where: str) -> None:
    out.options += ["--cpus", f"{_integer(value, where) / 1e9:g}"]


def _tmpfs(out: ContainerOptions, value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise ManifestError(f"{where}: expected an object of path: options")
    for path, options in value.items():
        text = _string(options, f"{where}.{path}")
        out.options += ["--tmpfs", f"{path}:{text}" if text else path]


_HOST_CONFIG: dict[str, Field] = {
    "IpcMode": _flag("--ipc"),
    "ShmSize": _flag("--shm-size", _integer),
    "Binds": _binds,
    "Mounts": _mounts,
    "PortBindings": _port_bindings,
    "NetworkMode": _network_mode,
    "LogConfig": _log_config,
    "Privileged": _privileged,
    "CapAdd": _repeated("--cap-add"),
    "CapDrop": _repeated("--cap-drop"),
    "Devices": _devices,
    "Memory": _flag("--memory", _integer),
    "NanoCpus": _nano_cpus,
    "ExtraHosts": _repeated("--add-host"),
    "Tmpfs": _tmpfs,
}


_TOP: dict[str, Field] = {
    "Env": _env,
    "Cmd": _cmd,
    "Entrypoint": _entrypoint,
    "User": _flag("--user"),
    "WorkingDir": _flag("--workdir"),
    "Hostname": _flag("--hostname"),
    "Labels": _labels,
    "ExposedPorts": _exposed_ports,
    "StopSignal": _flag("--stop-signal"),
    "StopTimeout": _flag("--stop-timeout", _integer),
}
