"""A resolved topology turned into the plan the simulator runs, or a clear refusal.

Each node's properties are read by its type's parser (graph/nodes/), every
problem collected with its JSON path and the node named, so GraphInstanceSet
answers with all of them at once (ModuleValidationError). The plan lists the
nodes in an order where every node comes after its inputs, with each input's
output selectors, and fills in what depends on the neighbours: which inputs
carry a gate's media, and whether an extension skips frames nothing upstream
annotated (see extension.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .nodes import EXTENSIONS, TYPES
from .nodes.grpc_extension import GrpcExtensionSpec
from .nodes.http_extension import HttpExtensionSpec
from .nodes.signal_gate import SignalGateSpec
from .properties import PlanError, Problem, Props, Reader, node_type, nodes, props

SOURCE = "MediaGraphRtspSource"
MEDIA_TYPES = ("video", "audio", "application")


@dataclass(frozen=True)
class InputPlan:
    node: str
    # (operator, media type) pairs of outputSelectors on mediaType; all must hold.
    selectors: tuple[tuple[str, str], ...] = ()

    def admits(self, media_type: str) -> bool:
        return all((value == media_type) == (op == "is") for op, value in self.selectors)


@dataclass(frozen=True)
class NodePlan:
    name: str
    section: str
    kind: str  # the @type after #Microsoft.Media., as the simulator spells it
    spec: Any
    inputs: tuple[InputPlan, ...]
    target: str = ""  # its JSON path in the topology


@dataclass(frozen=True)
class GraphPlan:
    instance: str
    topology: str
    nodes: tuple[NodePlan, ...]  # every node after its inputs

    def node(self, name: str) -> NodePlan:
        return next(n for n in self.nodes if n.name == name)


def _selectors(node: Reader, index: int, entry: Props) -> tuple[tuple[str, str], ...]:
    found = []
    for j, selector in enumerate(entry.get("outputSelectors") or []):
        reader = Reader(
            props(selector), f"{node.target}.inputs[{index}].outputSelectors[{j}]", node.problems
        )
        reader.name = node.name
        reader.choice("property", ("mediaType",))
        operator = reader.choice("operator", ("is", "isNot"))
        value = reader.choice("value", MEDIA_TYPES)
        found.append((operator, value))
    return tuple(found)


def _order(plans: dict[str, NodePlan]) -> list[NodePlan]:
    ordered: list[NodePlan] = []
    placed: set[str] = set()
    while len(ordered) < len(plans):
        ready = [
            p
            for p in plans.values()
            if p.name not in placed and all(i.node in placed for i in p.inputs)
        ]
        if not ready:  # a cycle or a missing input: GraphTopologySet refuses those first
            raise PlanError([Problem("GraphCycle", "the graph has a cycle", "$.properties")])
        ordered.extend(ready)
        placed.update(p.name for p in ready)
    return ordered


def compile_plan(instance: str, topology: str, properties: dict[str, Any]) -> GraphPlan:
    """Check a resolved graph against what the simulator runs; raise PlanError."""
    problems: list[Problem] = []
    plans: dict[str, NodePlan] = {}
    for section, i, node in nodes(properties):
        target = f"$.properties.{section}[{i}]"
        reader = Reader(node, target, problems)
        kind = TYPES.get(node_type(node).lower())
        if kind is None:
            problems.append(
                Problem(
                    "NotSupportedBySimulator",
                    f"node {reader.name!r} ({node_type(node)}) is not supported by the simulator;"
                    f" it runs {', '.join(sorted(TYPES[k].name for k in TYPES))}",
                    f"{target}.@type",
                )
            )
            continue
        inputs = tuple(
            InputPlan(str(props(entry).get("nodeName")), _selectors(reader, j, props(entry)))
            for j, entry in enumerate(node.get("inputs") or [])
        )
        plans[reader.name] = NodePlan(
            reader.name, section, kind.name, kind.parse(reader), inputs, target
        )
    if problems:
        raise PlanError(problems)
    ordered = [_complete(plan, plans, problems) for plan in _order(plans)]
    if problems:
        raise PlanError(problems)
    return GraphPlan(instance, topology, tuple(ordered))


def _complete(plan: NodePlan, plans: dict[str, NodePlan], problems: list[Problem]) -> NodePlan:
    """Settings that depend on the node's inputs."""
    kinds = {i.node: plans[i.node].kind for i in plan.inputs}
    spec = plan.spec
    if plan.kind in EXTENSIONS:
        assert isinstance(spec, GrpcExtensionSpec | HttpExtensionSpec)
        if not any(i.admits("video") for i in plan.inputs):
            problems.append(
                Problem(
                    "InvalidInput",
                    f"{plan.name}: an extension needs video from its input",
                    f"{plan.target}.inputs",
                )
            )
        if spec.sampling.skip_unannotated is None:
            fed_by_camera = all(kind == SOURCE for kind in kinds.values())
            sampling = dataclasses.replace(spec.sampling, skip_unannotated=not fed_by_camera)
            spec = dataclasses.replace(spec, sampling=sampling)
    elif isinstance(spec, SignalGateSpec):
        media = tuple(name for name, kind in kinds.items() if kind == SOURCE)
        spec = dataclasses.replace(spec, media_inputs=media)
    return dataclasses.replace(plan, spec=spec)
