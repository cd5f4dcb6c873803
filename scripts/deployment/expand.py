"""`$NAME` and `${NAME}` references inside a JSON document (keys and strings), resolved strictly.

The IoT Edge tools expand references in the template's text and leave unknown ones in place;
here each reference is resolved inside the parsed document (so a value with a quote or a
backslash stays valid JSON) and the caller is told which ones could not be.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# The reference syntax of os.path.expandvars, which iotedgedev applies to the whole template.
REFERENCE = re.compile(r"\$(\w+|\{[^}]*\})", re.ASCII)

# Spelled with a "$" in manifests and module.json, but not variables.
NOT_VARIABLES = frozenset({"edgeAgent", "edgeHub", "upstream", "schema"})

# name -> replacement text, or None when the name is not known.
Resolver = Callable[[str], "str | None"]


def expand_document(document: Any, resolve: Resolver) -> tuple[Any, list[str]]:
    """Return the document with every reference replaced, and the references left unresolved."""
    unresolved: list[str] = []

    def expand_text(text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1).removeprefix("{").removesuffix("}")
            if match.group(1) == name and name in NOT_VARIABLES:
                return match.group(0)
            value = resolve(name)
            if value is None:
                if match.group(0) not in unresolved:
                    unresolved.append(match.group(0))
                return match.group(0)
            return value

        return REFERENCE.sub(replace, text)

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return expand_text(node)
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, dict):
            return {expand_text(key): walk(value) for key, value in node.items()}
        return node

    return walk(document), unresolved
