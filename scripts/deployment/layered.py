"""An at-scale, layered deployment (`az iot edge deployment create --layered`) from a manifest.

A layered deployment adds modules, routes and module twins to devices that already run a base
deployment (edgeAgent and edgeHub); it may not contain the system modules. Its content uses the
dotted form `properties.desired.modules.<name>`, so several layers merge instead of replacing
each other. The file is an IoT Hub configuration: `az` reads its `content`, and takes the id,
target condition and priority from its own options (the renderer prints that command).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from .errors import DeploymentError

# IoT Hub configuration ids: lower case, <= 128 characters, none of: space & ^ [ ] { } \ | " < > /
DEPLOYMENT_ID = re.compile(r"^[a-z0-9][a-z0-9._:+%#*?!(),=@;'-]{0,127}$")


def default_deployment_id(name: str, content: Any) -> str:
    """`<name>-<hash of the content>`: a new id whenever the content changes, since IoT Hub
    cannot update the content of a deployment."""
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:8]
    return f"{name.replace('.', '-')}-{digest}".lower()


def layered_content(manifest: dict[str, Any]) -> dict[str, Any]:
    modules_content = manifest["modulesContent"]
    agent = modules_content["$edgeAgent"]["properties.desired"]
    hub = modules_content["$edgeHub"]["properties.desired"]
    registries = agent["runtime"]["settings"].get("registryCredentials", {})
    layer_agent = {
        f"properties.desired.runtime.settings.registryCredentials.{name}": credentials
        for name, credentials in registries.items()
    }
    layer_agent.update(
        {f"properties.desired.modules.{name}": module for name, module in agent["modules"].items()}
    )
    layer_hub = {f"properties.desired.routes.{name}": r for name, r in hub["routes"].items()}
    twins = {k: v for k, v in modules_content.items() if k not in ("$edgeAgent", "$edgeHub")}
    return {"modulesContent": {"$edgeAgent": layer_agent, "$edgeHub": layer_hub, **twins}}


def layered_deployment(
    manifest: dict[str, Any],
    *,
    name: str,
    deployment_id: str | None,
    target_condition: str,
    priority: int,
) -> dict[str, Any]:
    """`name` (e.g. deployment.grpc.amd64) makes the default id when `deployment_id` is None."""
    content = layered_content(manifest)
    deployment_id = deployment_id or default_deployment_id(name, content)
    if not DEPLOYMENT_ID.match(deployment_id):
        raise DeploymentError(
            f"deployment id {deployment_id!r} is not valid: use at most 128 lower-case letters, "
            "digits and - . _ (no spaces)"
        )
    if not target_condition.strip():
        raise DeploymentError("--layered needs --target-condition, e.g. \"tags.lva='true'\"")
    return {
        "id": deployment_id,
        "targetCondition": target_condition,
        "priority": priority,
        "content": content,
    }


def az_command(deployment: dict[str, Any], content_path: str) -> str:
    target = deployment["targetCondition"].replace('"', '\\"')
    return (
        "az iot edge deployment create --layered --hub-name <your IoT hub>"
        f" --deployment-id {deployment['id']} --content {content_path}"
        f' --target-condition "{target}" --priority {deployment["priority"]}'
    )
