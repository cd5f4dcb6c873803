"""LVA's placement rules, checked when a topology is set (quotas-limitations.md, 2.0).

- one RTSP source;
- motion detection right after the RTSP source (so never after an extension);
- a signal gate right after the RTSP source (its media), with at least one
  input that sends it events (motion detection, an extension, an IoT Hub
  message source);
- an asset sink right after the RTSP source or a signal gate;
- a file sink right after a signal gate (never an extension or motion detection);
- an IoT Hub message sink publishes events: not right after the RTSP source,
  a signal gate or an IoT Hub message source.

And a sink's name pattern (``assetNamePattern``, ``fileNamePattern``) holds at least
one system variable, such as ``${System.DateTime}``, so recordings get names of their own.

Each broken rule is one GraphValidationError detail that names the node.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..graph.properties import inputs_of, node_type, nodes
from .errors import ErrorDetail

RTSP = "mediagraphrtspsource"
HUB_SOURCE = "mediagraphiothubmessagesource"
MOTION = "mediagraphmotiondetectionprocessor"
GATE = "mediagraphsignalgateprocessor"
ASSET_SINK = "mediagraphassetsink"
FILE_SINK = "mediagraphfilesink"
HUB_SINK = "mediagraphiothubmessagesink"
CODE = "NodePlacementNotAllowed"
PATTERNS = {ASSET_SINK: ("assetNamePattern",), FILE_SINK: ("fileNamePattern",)}


def check_placement(properties: Mapping[str, Any]) -> list[ErrorDetail]:
    kinds = {str(node.get("name")): node_type(node).lower() for _, _, node in nodes(properties)}
    details: list[ErrorDetail] = []

    def refuse(target: str, name: str, rule: str) -> None:
        details.append(ErrorDetail(CODE, f"node {name!r}: {rule}", target))

    sources = [name for name, kind in kinds.items() if kind == RTSP]
    if len(sources) != 1:
        found = ", ".join(sources) or "none"
        details.append(
            ErrorDetail(
                CODE,
                f"a topology has exactly one RTSP source (found: {found})",
                "$.properties.sources",
            )
        )
    for section, i, node in nodes(properties):
        name, kind = str(node.get("name")), kinds[str(node.get("name"))]
        for key in PATTERNS.get(kind, ()):
            pattern = node.get(key)
            if isinstance(pattern, str) and "${system." not in pattern.lower():
                details.append(
                    ErrorDetail(
                        "PropertyValueInvalid",
                        f"node {name!r}: {key} needs a system variable (${{System.DateTime}}, ...),"
                        f" got {pattern!r}",
                        f"$.properties.{section}[{i}].{key}",
                    )
                )
        target = f"$.properties.{section}[{i}].inputs"
        upstream = [kinds.get(n, "") for n in inputs_of(node)]
        if kind == MOTION and any(k != RTSP for k in upstream):
            refuse(target, name, "motion detection must come right after the RTSP source")
        elif kind == GATE:
            if upstream.count(RTSP) != 1:
                refuse(target, name, "a signal gate takes its media right from the RTSP source")
            elif len(upstream) < 2 or any(
                k in (GATE, ASSET_SINK, FILE_SINK, HUB_SINK) for k in upstream
            ):
                refuse(
                    target,
                    name,
                    "a signal gate needs an input that sends it events: motion detection, an"
                    " extension or an IoT Hub message source",
                )
        elif kind == ASSET_SINK and any(k not in (RTSP, GATE) for k in upstream):
            refuse(
                target, name, "an asset sink must come right after the RTSP source or a signal gate"
            )
        elif kind == FILE_SINK and any(k != GATE for k in upstream):
            refuse(target, name, "a file sink must come right after a signal gate")
        elif kind == HUB_SINK:
            for upstream_name, k in zip(inputs_of(node), upstream, strict=True):
                if k in (RTSP, GATE, HUB_SOURCE):
                    refuse(
                        target,
                        name,
                        f"an IoT Hub message sink publishes events, and {upstream_name!r} sends"
                        " none: take them from motion detection or an extension",
                    )
    return details
