"""Check a manifest against schema/deployment-manifest.schema.json before it is written."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError, best_match

from .errors import DeploymentError

SCHEMA_PATH = Path(__file__).parent / "schema" / "deployment-manifest.schema.json"


@cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def validate_manifest(document: Any, what: str) -> None:
    _validate(_schema(), document, what)


def validate_layered(document: Any, what: str) -> None:
    # The layered entry point of the same file; its definitions are shared.
    schema = _schema()
    entry = {"$ref": "#/definitions/layeredDeployment", "definitions": schema["definitions"]}
    _validate(entry, document, what)


def _validate(schema: dict[str, Any], document: Any, what: str) -> None:
    error = best_match(Draft7Validator(schema).iter_errors(document))
    if error is not None:
        raise DeploymentError(f"{what} breaks the IoT Edge deployment schema: {_describe(error)}")


def _describe(error: ValidationError) -> str:
    where = " > ".join(str(part) for part in error.absolute_path) or "the top level"
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    if error.validator in ("pattern", "propertyNames") and description:
        return f"at {where}: {error.instance!r} is not {description}"
    return f"at {where}: {error.message}"
