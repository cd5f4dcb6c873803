"""Reading the nodes of a topology's JSON."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Json = dict[str, Any]


def nodes(properties: Json) -> Iterator[tuple[str, int, Json]]:
    """(section, index, node) for every node, sources first."""
    for section in ("sources", "processors", "sinks"):
        for i, node in enumerate(properties.get(section) or []):
            yield section, i, node


def inputs_of(node: Json) -> list[str]:
    return [str(x["nodeName"]) for x in node.get("inputs") or []]
