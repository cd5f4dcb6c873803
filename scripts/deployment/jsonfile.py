"""Reading the solution's JSON files, with one-line errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import DeploymentError


def read_json(path: Path, what: str) -> Any:
    """The parsed document; ``what`` names it in errors ("template x.json", "x.json")."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise DeploymentError(f"cannot read {what}: {error.strerror}") from error
    except json.JSONDecodeError as error:
        raise DeploymentError(f"{what} is not valid JSON: {error}") from error
