"""How frames travel from the LVA module to the extension, as container IPC settings.

- shared-memory: lvaEdge owns a shareable IPC namespace (and its /dev/shm, sized by ShmSize);
  the extension joins it with `container:<lva module>`. What the LVA samples use.
- shared-memory-host: both use the host's IPC namespace and /dev/shm; ShmSize does not apply.
- embedded: frames travel inside the gRPC messages; no IPC settings at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from .errors import DeploymentError

TransferMode = Literal["shared-memory", "shared-memory-host", "embedded"]
TRANSFER_MODES: tuple[TransferMode, ...] = ("shared-memory", "shared-memory-host", "embedded")

MIB = 1024 * 1024
# Room in lvaEdge's /dev/shm beyond the graphs' shared-memory buffers (Docker's default size).
HEADROOM_MIB = 64
# The topologies in topologies/ ask for this much (SharedMemorySizeMiB) per graph instance.
DEFAULT_SHARED_MEMORY_MIB = 64
DEFAULT_GRAPH_INSTANCES = 3


def shm_size_bytes(shared_memory_mib: int, graph_instances: int) -> int:
    """lvaEdge's ShmSize: every graph instance's buffer, plus headroom."""
    return (shared_memory_mib * graph_instances + HEADROOM_MIB) * MIB


@dataclass(frozen=True)
class IpcLayout:
    mode: TransferMode
    lva_module: str = "lvaEdge"
    extension_module: str = "grpcExtension"
    shared_memory_mib: int = DEFAULT_SHARED_MEMORY_MIB
    graph_instances: int = DEFAULT_GRAPH_INSTANCES

    def host_config(self, module: str) -> dict[str, Any]:
        """The IPC keys of `module`'s HostConfig in this layout (absent keys are removed)."""
        if self.mode == "embedded":
            return {}
        if self.mode == "shared-memory-host":
            return {"IpcMode": "host"}
        if module == self.lva_module:
            return {
                "IpcMode": "shareable",
                "ShmSize": shm_size_bytes(self.shared_memory_mib, self.graph_instances),
            }
        return {"IpcMode": f"container:{self.lva_module}"}


def apply_ipc_layout(modules: dict[str, Any], layout: IpcLayout) -> None:
    """Rewrite the IPC settings of the LVA and extension modules in place."""
    for name in (layout.lva_module, layout.extension_module):
        module = modules.get(name)
        if not isinstance(module, dict):
            raise DeploymentError(
                f"--transfer-mode needs module {name} in the template "
                f"(it has: {', '.join(modules) or 'none'}); see --lva-module/--extension-module"
            )
        settings = module.setdefault("settings", {})
        options = _as_object(settings.get("createOptions", {}), name)
        host_config = {
            key: value
            for key, value in options.get("HostConfig", {}).items()
            if key not in ("IpcMode", "ShmSize")
        }
        host_config.update(layout.host_config(name))
        if host_config:
            options["HostConfig"] = host_config
        else:
            options.pop("HostConfig", None)
        settings["createOptions"] = options


def _as_object(create_options: Any, module: str) -> dict[str, Any]:
    if isinstance(create_options, dict):
        return create_options
    if isinstance(create_options, str):
        try:
            parsed = json.loads(create_options or "{}")
        except RecursionError:
            raise DeploymentError(
                f"createOptions of module {module} is a string that nests too deeply"
            ) from None
        except ValueError as error:  # not JSON, or an integer of thousands of digits
            raise DeploymentError(
                f"createOptions of module {module} is a string that is not JSON: {str(error)[:200]}"
            ) from None
        if isinstance(parsed, dict):
            return parsed
    raise DeploymentError(f"createOptions of module {module} is not a JSON object")
