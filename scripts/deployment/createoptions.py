"""A module's `settings.createOptions`: compact JSON cut into the chunks IoT Edge accepts."""

from __future__ import annotations

import json
from typing import Any

from .errors import DeploymentError

# A twin property value is at most 512 characters; edgeAgent joins createOptions,
# createOptions01 ... createOptions07, so 4 KiB in all.
CHUNK_LENGTH = 512
MAX_CHUNKS = 8


def serialize(create_options: Any) -> str:
    """A string is kept as written; anything else becomes compact JSON, as both tools do."""
    if isinstance(create_options, str):
        return create_options
    return json.dumps(create_options, separators=(",", ":"))


def chunk_names(count: int) -> list[str]:
    return ["createOptions"] + [f"createOptions{i:02d}" for i in range(1, count)]


def split(create_options: Any, module: str) -> dict[str, str]:
    text = serialize(create_options)
    chunks = [text[i : i + CHUNK_LENGTH] for i in range(0, len(text), CHUNK_LENGTH)] or [text]
    if len(chunks) > MAX_CHUNKS:
        raise DeploymentError(
            f"createOptions of module {module} is {len(text)} characters as compact JSON: "
            f"IoT Edge allows at most {CHUNK_LENGTH * MAX_CHUNKS} ({MAX_CHUNKS} x {CHUNK_LENGTH})"
        )
    return dict(zip(chunk_names(len(chunks)), chunks, strict=True))


def split_settings(settings: dict[str, Any], module: str) -> dict[str, Any]:
    """The settings with createOptions replaced, in place, by its chunks."""
    if "createOptions" not in settings:
        return settings
    result: dict[str, Any] = {}
    for key, value in settings.items():
        if key == "createOptions":
            result.update(split(value, module))
        else:
            result[key] = value
    return result
