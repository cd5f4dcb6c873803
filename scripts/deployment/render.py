"""Template + variables + module.json -> deployment manifest, in the order the tools use:
expand references, resolve image placeholders, (our addition: IPC layout), cut createOptions
into chunks, drop `$schema-template`, then validate."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .createoptions import split_settings
from .errors import DeploymentError
from .expand import expand_document
from .images import ImageResolver, is_image_placeholder
from .jsonfile import read_json
from .transfer import IpcLayout, apply_ipc_layout
from .validate import validate_manifest

TEMPLATE_SUFFIX = ".template.json"


def load_template(path: Path) -> dict[str, Any]:
    document = read_json(path, f"template {path}")
    if not isinstance(document, dict):
        raise DeploymentError(f"template {path} is not a JSON object")
    return document


def manifest_name(template: Path, schema_template: str, platform: str) -> str:
    """`deployment.grpc.template.json` -> `deployment.grpc.amd64.json` (no platform for the
    old "0.0.1" templates), as VS Code and iotedgedev name it."""
    name = template.name
    if name.endswith(TEMPLATE_SUFFIX):
        stem = name.removesuffix(TEMPLATE_SUFFIX)
    elif name.endswith(".json"):
        stem = name.removesuffix(".json")
    else:
        stem = "deployment"
    suffix = f".{platform}" if schema_template > "0.0.1" else ""
    return f"{stem}{suffix}.json"


def render_manifest(
    template: Path,
    variables: Mapping[str, str],
    platform: str,
    ipc: IpcLayout | None = None,
) -> tuple[dict[str, Any], str]:
    """The manifest and its file name; raises DeploymentError naming the first problem."""
    document = load_template(template)
    schema_template = str(document.get("$schema-template", ""))
    images = ImageResolver(template.parent / "modules", variables, platform)

    def resolve(name: str) -> str | None:
        if is_image_placeholder(name):
            return images.resolve(name)
        return variables.get(name)

    manifest, unresolved = expand_document(document, resolve)
    if unresolved:
        raise DeploymentError(
            f"{template.name} uses variables that are not set in the env file or the "
            f"environment: {', '.join(unresolved)}"
        )
    manifest.pop("$schema-template", None)
    agent = _agent_desired(manifest)
    if ipc is not None:
        apply_ipc_layout(agent.get("modules", {}), ipc)
    for group in ("systemModules", "modules"):
        for name, module in agent.get(group, {}).items():
            if isinstance(module, dict) and isinstance(module.get("settings"), dict):
                module["settings"] = split_settings(module["settings"], name)
    validate_manifest(manifest, manifest_name(template, schema_template, platform))
    return manifest, manifest_name(template, schema_template, platform)


def _agent_desired(manifest: dict[str, Any]) -> dict[str, Any]:
    # Tolerant on purpose: a template missing these gets its message from the schema check.
    content = manifest.get("modulesContent", {})
    agent = content.get("$edgeAgent", {}) if isinstance(content, dict) else {}
    desired = agent.get("properties.desired", {}) if isinstance(agent, dict) else {}
    return desired if isinstance(desired, dict) else {}
