"""Graph topologies and graph instances: the checks LVA makes when they are set.

A topology is kept as the JSON it was set with (LVA answers Get with what it
was given). ``check_topology`` validates its shape and graph; ``check_instance``
the instance body; ``resolve`` puts an instance's parameter values (or the
defaults) into a copy of its topology's nodes.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..graph.properties import Json, inputs_of, node_type, nodes, props
from .errors import ErrorDetail, MethodError, graph_validation, invalid_resource
from .placement import check_placement

# Names: letters, digits and dashes, not starting or ending with a dash, at most 32.
NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
NODE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PARAMETER_TYPES = ("String", "SecretString", "Int", "Double", "Bool")
REFERENCE = re.compile(r"\$\{([^}]*)\}")
SYSTEM_VARIABLES = (
    "System.GraphTopologyName",
    "System.GraphInstanceName",
    "System.DateTime",
    "System.PreciseDateTime",
)

_M = "#Microsoft.Media."
NODE_TYPES: dict[str, tuple[str, ...]] = {
    "sources": (f"{_M}MediaGraphRtspSource", f"{_M}MediaGraphIoTHubMessageSource"),
    "processors": (
        f"{_M}MediaGraphGrpcExtension",
        f"{_M}MediaGraphHttpExtension",
        f"{_M}MediaGraphCognitiveServicesVisionExtension",
        f"{_M}MediaGraphMotionDetectionProcessor",
        f"{_M}MediaGraphFrameRateFilterProcessor",
        f"{_M}MediaGraphSignalGateProcessor",
        f"{_M}MediaGraphObjectTrackingProcessor",
        f"{_M}MediaGraphLineCrossingProcessor",
    ),
    "sinks": (
        f"{_M}MediaGraphIoTHubMessageSink",
        f"{_M}MediaGraphAssetSink",
        f"{_M}MediaGraphFileSink",
    ),
}


def check_name(value: Any, target: str, what: str) -> list[ErrorDetail]:
    if not isinstance(value, str) or not value:
        return [ErrorDetail("PropertyRequired", f"{what} needs a name", target)]
    if not NAME.match(value):
        return [
            ErrorDetail(
                "PropertyValueInvalidPattern",
                f"{what} name {value!r}: use at most 32 letters, digits and dashes,"
                " not starting or ending with a dash",
                target,
            )
        ]
    return []


def _require(body: Mapping[str, Any], key: str, kind: type, target: str) -> Any:
    value = body.get(key)
    if not isinstance(value, kind):
        expected = {"dict": "an object", "list": "a list", "str": "a string"}[kind.__name__]
        problem = "is required" if value is None else f"must be {expected}"
        raise invalid_resource([ErrorDetail("PropertyRequired", f"{key} {problem}", target)])
    return value


# --- parameters -------------------------------------------------------------


def check_value(kind: str, value: str) -> str | None:
    """Why ``value`` is not a valid value of parameter type ``kind`` (None if it is)."""
    if kind == "Int":
        if not re.fullmatch(r"[+-]?\d+", value.strip()):
            return f"expected an integer, got {value!r}"
    elif kind == "Double":
        try:
            float(value)
        except ValueError:
            return f"expected a number, got {value!r}"
    elif kind == "Bool" and value.strip().lower() not in ("true", "false"):
        return f"expected true or false, got {value!r}"
    return None


def _check_parameters(parameters: Any) -> tuple[dict[str, Json], list[ErrorDetail]]:
    details: list[ErrorDetail] = []
    declared: dict[str, Json] = {}
    if parameters is None:
        return declared, details
    if not isinstance(parameters, list):
        return declared, [
            ErrorDetail("PropertyInvalid", "must be a list", "$.properties.parameters")
        ]
    for i, parameter in enumerate(parameters):
        target = f"$.properties.parameters[{i}]"
        if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
            details.append(ErrorDetail("PropertyRequired", "a parameter needs a name", target))
            continue
        name = parameter["name"]
        if name in declared:
            details.append(
                ErrorDetail("ParameterDuplicated", f"{name!r} is declared twice", target)
            )
        kind = parameter.get("type")
        if kind not in PARAMETER_TYPES:
            details.append(
                ErrorDetail(
                    "PropertyValueInvalid",
                    f"parameter {name!r}: type must be one of {', '.join(PARAMETER_TYPES)},"
                    f" got {kind!r}",
                    f"{target}.type",
                )
            )
        default = parameter.get("default")
        if default is not None:
            problem = "must be a string" if not isinstance(default, str) else None
            if problem is None and kind in PARAMETER_TYPES:
                problem = check_value(str(kind), default)
            if problem:
                details.append(
                    ErrorDetail(
                        "PropertyValueInvalid",
                        f"default of {name!r}: {problem}",
                        f"{target}.default",
                    )
                )
        declared[name] = parameter
    return declared, details


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]")


# --- the topology ---------------------------------------------------------


def check_topology(body: Any) -> Json:
    """Validate a GraphTopologySet payload; returns the topology as it is kept."""
    if not isinstance(body, dict):
        raise invalid_resource([ErrorDetail("PropertyRequired", "expected a topology object", "$")])
    details = check_name(body.get("name"), "$.name", "a graph topology")
    properties = _require(body, "properties", dict, "$.properties")
    declared, parameter_details = _check_parameters(properties.get("parameters"))
    details += parameter_details
    for section in ("sources", "processors", "sinks"):
        value = properties.get(section)
        if value is None and section == "processors":
            continue
        if not isinstance(value, list) or (section != "processors" and not value):
            details.append(
                ErrorDetail(
                    "PropertyRequired",
                    f"a topology needs a list of {section}",
                    f"$.properties.{section}",
                )
            )
    if details:
        raise invalid_resource(details)
    details += _check_nodes(properties, declared)
    if details:
        raise invalid_resource(details)
    graph_details = _check_graph(properties)
    if graph_details:
        raise graph_validation(graph_details)
    placement = check_placement(properties)
    if placement:
        raise graph_validation(placement)
    kept = {key: copy.deepcopy(value) for key, value in body.items() if key != "@apiVersion"}
    return kept


def _check_nodes(properties: Json, declared: Mapping[str, Json]) -> list[ErrorDetail]:
    details: list[ErrorDetail] = []
    seen: set[str] = set()
    for section in ("sources", "processors", "sinks"):
        for i, raw in enumerate(properties.get(section) or []):
            target = f"$.properties.{section}[{i}]"
            if not isinstance(raw, Mapping):
                details.append(ErrorDetail("PropertyInvalid", "a node must be an object", target))
    for section, i, node in nodes(properties):
        target = f"$.properties.{section}[{i}]"
        if not node:
            continue
        name = node.get("name")
        if not isinstance(name, str) or not NODE_NAME.match(name):
            details.append(
                ErrorDetail(
                    "PropertyValueInvalidPattern",
                    f"node name {name!r} is not valid",
                    f"{target}.name",
                )
            )
        elif name in seen:
            details.append(
                ErrorDetail("NodeNameDuplicated", f"node name {name!r} is used twice", target)
            )
        else:
            seen.add(name)
        kind = node.get("@type")
        if f"{_M}{node_type(node)}".lower() not in {t.lower() for t in NODE_TYPES[section]}:
            known = ", ".join(t.removeprefix(_M) for t in NODE_TYPES[section])
            details.append(
                ErrorDetail(
                    "UnknownType", f"{section} can be {known}; got {kind!r}", f"{target}.@type"
                )
            )
        if section != "sources":
            inputs = node.get("inputs")
            if (
                not isinstance(inputs, list)
                or not inputs
                or not all(
                    isinstance(x, Mapping) and isinstance(props(x).get("nodeName"), str)
                    for x in inputs
                )
            ):
                details.append(
                    ErrorDetail(
                        "PropertyRequired",
                        "inputs must list at least one {nodeName}",
                        f"{target}.inputs",
                    )
                )
        for path, text in _strings(node, target):
            for reference in REFERENCE.findall(text):
                if reference not in declared and reference not in SYSTEM_VARIABLES:
                    details.append(
                        ErrorDetail(
                            "ParameterNotDeclared",
                            f"${{{reference}}} is used but not declared in properties.parameters",
                            path,
                        )
                    )
    return details


def _check_graph(properties: Json) -> list[ErrorDetail]:
    by_name = {str(node["name"]): node for _, _, node in nodes(properties)}
    sinks = {str(node["name"]) for section, _, node in nodes(properties) if section == "sinks"}
    details: list[ErrorDetail] = []
    consumers: dict[str, int] = dict.fromkeys(by_name, 0)
    for section, i, node in nodes(properties):
        for j, upstream in enumerate(inputs_of(node)):
            target = f"$.properties.{section}[{i}].inputs[{j}]"
            if upstream not in by_name:
                details.append(
                    ErrorDetail("NodeNotFound", f"no node is called {upstream!r}", target)
                )
            elif upstream == node["name"]:
                details.append(ErrorDetail("GraphCycle", f"{upstream!r} is its own input", target))
            elif upstream in sinks:
                details.append(
                    ErrorDetail("InvalidInput", f"sink {upstream!r} has no output", target)
                )
            else:
                consumers[upstream] += 1
    if details:
        return details
    details += _cycles(by_name)
    for section, i, node in nodes(properties):
        if section != "sinks" and consumers[str(node["name"])] == 0:
            details.append(
                ErrorDetail(
                    "NodeOutputUnused",
                    f"nothing takes the output of {node['name']!r}: every source and processor"
                    " must lead to a sink",
                    f"$.properties.{section}[{i}]",
                )
            )
    return details


def _cycles(by_name: Mapping[str, Mapping[str, Any]]) -> list[ErrorDetail]:
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str, trail: list[str]) -> list[str] | None:
        if state.get(name) == 2:
            return None
        if state.get(name) == 1:
            return [*trail[trail.index(name) :], name]
        state[name] = 1
        for upstream in inputs_of(by_name[name]):
            cycle = visit(upstream, [*trail, name])
            if cycle:
                return cycle
        state[name] = 2
        return None

    for name in by_name:
        cycle = visit(name, [])
        if cycle:
            return [
                ErrorDetail(
                    "GraphCycle", "the graph has a cycle: " + " <- ".join(cycle), "$.properties"
                )
            ]
    return []


def declared_parameters(topology: Json) -> dict[str, Json]:
    return {str(p["name"]): p for p in topology["properties"].get("parameters") or []}


# --- graph instances --------------------------------------------------------


def check_instance(body: Any) -> Json:
    """Validate a GraphInstanceSet payload; returns {name, properties} as kept."""
    if not isinstance(body, dict):
        raise invalid_resource(
            [ErrorDetail("PropertyRequired", "expected a graph instance object", "$")]
        )
    details = check_name(body.get("name"), "$.name", "a graph instance")
    properties = _require(body, "properties", dict, "$.properties")
    if not isinstance(properties.get("topologyName"), str) or not properties["topologyName"]:
        details.append(
            ErrorDetail("PropertyRequired", "topologyName is required", "$.properties.topologyName")
        )
    description = properties.get("description", "")
    if not isinstance(description, str):
        details.append(
            ErrorDetail("PropertyInvalid", "must be a string", "$.properties.description")
        )
    parameters = properties.get("parameters") or []
    names: set[str] = set()
    if not isinstance(parameters, list):
        details.append(ErrorDetail("PropertyInvalid", "must be a list", "$.properties.parameters"))
        parameters = []
    for i, parameter in enumerate(parameters):
        target = f"$.properties.parameters[{i}]"
        if (
            not isinstance(parameter, dict)
            or not isinstance(parameter.get("name"), str)
            or not isinstance(parameter.get("value"), str)
        ):
            details.append(ErrorDetail("PropertyInvalid", "expected {name, value} strings", target))
        elif parameter["name"] in names:
            details.append(
                ErrorDetail("ParameterDuplicated", f"{parameter['name']!r} is given twice", target)
            )
        else:
            names.add(parameter["name"])
    if details:
        raise invalid_resource(details)
    kept_properties: Json = {
        "topologyName": properties["topologyName"],
        "description": description,
        "parameters": [{"name": p["name"], "value": p["value"]} for p in parameters],
    }
    return {"name": body["name"], "properties": kept_properties}


def check_instance_against(instance: Json, topology: Json) -> None:
    """The instance's parameters fit the topology: declared, typed, none missing."""
    declared = declared_parameters(topology)
    given = {p["name"]: p["value"] for p in instance["properties"]["parameters"]}
    details: list[ErrorDetail] = []
    for i, (name, value) in enumerate(given.items()):
        target = f"$.properties.parameters[{i}]"
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            details.append(
                ErrorDetail(
                    "ParameterNotDeclared",
                    f"topology {topology['name']!r} declares no parameter {name!r}"
                    f" (it has: {known})",
                    target,
                )
            )
            continue
        problem = check_value(str(declared[name].get("type")), value)
        if problem:
            details.append(
                ErrorDetail("ParameterValueInvalid", f"{name}: {problem}", f"{target}.value")
            )
    for name, declaration in declared.items():
        if name not in given and declaration.get("default") is None:
            details.append(
                ErrorDetail(
                    "ParameterValueMissing",
                    f"parameter {name!r} has no default: the graph instance must give a value",
                    "$.properties.parameters",
                )
            )
    if details:
        raise MethodError(
            400, "InvalidResource", "The graph instance does not fit its topology.", details
        )


def resolve(topology: Json, instance: Json) -> Json:
    """A copy of the topology's properties with every ${parameter} replaced.

    ``${System.DateTime}`` and ``${System.PreciseDateTime}`` stay: sinks fill them
    in when a recording starts, so each gate activation can make a new asset.
    """
    values: dict[str, str] = {
        name: str(p["default"])
        for name, p in declared_parameters(topology).items()
        if p.get("default") is not None
    }
    values.update({p["name"]: p["value"] for p in instance["properties"]["parameters"]})
    values["System.GraphTopologyName"] = str(topology["name"])
    values["System.GraphInstanceName"] = str(instance["name"])

    def substitute(value: Any) -> Any:
        if isinstance(value, str):
            return REFERENCE.sub(lambda m: values.get(m.group(1), m.group(0)), value)
        if isinstance(value, dict):
            return {key: substitute(item) for key, item in value.items()}
        if isinstance(value, list):
            return [substitute(item) for item in value]
        return value

    resolved: Json = substitute(copy.deepcopy(topology["properties"]))
    return resolved
