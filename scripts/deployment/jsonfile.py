"""Reading the solution's JSON files, with one-line errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import DeploymentError

MAX_DEPTH = 64  # a deployment manifest nests about ten levels


def read_json(path: Path, what: str) -> Any:
    """The parsed document; ``what`` names it in errors ("template x.json", "x.json")."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise DeploymentError(f"cannot read {what}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise DeploymentError(f"{what} is not UTF-8 text ({error.reason})") from None
    except RecursionError:
        raise DeploymentError(f"{what} nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:  # JSONDecodeError, or an integer of thousands of digits
        raise DeploymentError(f"{what} is not valid JSON: {str(error)[:200]}") from None
    if _depth(document) > MAX_DEPTH:
        # Every later step (placeholders, createOptions, the schema) walks it recursively.
        raise DeploymentError(f"{what} nests deeper than {MAX_DEPTH} levels")
    return document


def _depth(value: Any) -> int:
    """How deeply ``value`` nests, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack and deepest <= MAX_DEPTH:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest
