"""The project's import graph, read with ``ast``: no circles, and layers that only look down.

The extension package is layered along its data path (server -> stream ->
models -> transports -> frames, processors -> inferences, proto), with the LVA side
(client/) beside the server side and sharing only what lies below both.
Every import counts, also those inside functions: a lazy import that closes
a circle still ties the two modules together.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import REPO

# Where the project's Python code lives, and the module name of each root.
ROOTS = {
    REPO / "modules" / "grpcExtension" / "src": "",
    REPO / "simulator" / "src": "",
    REPO / "scripts": "scripts",
    REPO / "bench": "bench",
    REPO / "cloud-to-device-console-app": "",
}

# Layers of lva_extension, lowest first: a module may import its own layer's
# package and anything lower, never higher.
LAYERS = [
    {"proto"},
    {"errors", "logs", "contract", "metrics"},
    {"inferences", "settings", "telemetry", "files"},
    {"frames"},
    {"transports", "processors"},
    {"models"},
    {"stream", "client"},
    {"server"},
    {"cli"},
    {"__main__"},
]
SERVER_SIDE = {"server", "stream", "models", "transports", "frames", "processors"}


def module_name(root: Path, prefix: str, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([prefix, *parts] if prefix else parts)


def project_modules() -> dict[str, Path]:
    modules = {}
    for root, prefix in ROOTS.items():
        for path in root.rglob("*.py"):
            if "proto" in path.parts and path.name.endswith("_pb2.py"):
                continue  # generated; imports only protobuf
            modules[module_name(root, prefix, path)] = path
    return modules


MODULES = project_modules()


def imported(name: str, path: Path) -> Iterator[str]:
    """The project modules that the module ``name`` (at ``path``) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from a import b` imports a.b when b is a module, else a.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


GRAPH = {name: set(imported(name, path)) for name, path in MODULES.items()}


def circles() -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in GRAPH[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return found


def room(module: str) -> str | None:
    """The top-level room of lva_extension a module belongs to (None outside it)."""
    parts = module.split(".")
    if parts[0] != "lva_extension" or len(parts) == 1:
        return None
    return parts[1]


def layer(room_name: str) -> int:
    for level, rooms in enumerate(LAYERS):
        if room_name in rooms:
            return level
    raise AssertionError(f"lva_extension.{room_name} is in no layer: add it to LAYERS")


def test_the_graph_sees_the_packages():
    # A guard for the test itself: if the reader stopped finding imports, every
    # rule below would pass vacuously.
    assert "lva_extension.stream.conversation" in MODULES
    assert "lva_simulator.cli" in MODULES
    assert "lva_extension.transports" in GRAPH["lva_extension.stream.conversation"]
    assert len(MODULES) > 80


def test_no_import_circles_anywhere():
    assert circles() == []


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if room(m)))
def test_extension_imports_only_look_down(module):
    mine = room(module)
    assert mine is not None
    upward = [
        other
        for other in GRAPH[module]
        if (theirs := room(other)) is not None and theirs != mine and layer(theirs) >= layer(mine)
    ]
    assert upward == [], f"{module} imports a layer at or above its own"


def test_no_server_side_module_imports_the_client():
    offenders = {
        module: sorted(o for o in GRAPH[module] if room(o) == "client")
        for module in GRAPH
        if room(module) in SERVER_SIDE
    }
    assert {m: o for m, o in offenders.items() if o} == {}


def test_the_client_imports_no_server_side_room_but_frames():
    offenders = {
        module: sorted(o for o in GRAPH[module] if room(o) in SERVER_SIDE - {"frames"})
        for module in GRAPH
        if room(module) == "client"
    }
    assert {m: o for m, o in offenders.items() if o} == {}


def test_the_extension_never_imports_the_simulator_or_the_tools():
    offenders = {
        module: sorted(o for o in GRAPH[module] if not o.startswith("lva_extension"))
        for module in GRAPH
        if module.startswith("lva_extension")
    }
    assert {m: o for m, o in offenders.items() if o} == {}


def simulator_room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "lva_simulator" and len(parts) > 1 else None


def test_the_simulators_graph_and_module_never_import_the_web_view():
    # The web view watches graphs through graph/observer.py: it looks down at them,
    # they never look up at it; only the process (app, cli) puts the two together.
    offenders = {
        module: sorted(o for o in GRAPH[module] if simulator_room(o) == "web")
        for module in GRAPH
        if simulator_room(module) not in (None, "web", "app", "cli")
    }
    assert {m: o for m, o in offenders.items() if o} == {}
    assert "lva_simulator.graph.observer" in GRAPH["lva_simulator.web.observatory"]


def test_the_simulators_graph_imports_only_itself_and_times():
    offenders = {
        module: sorted(
            o for o in GRAPH[module] if simulator_room(o) not in (None, "graph", "times")
        )
        for module in GRAPH
        if simulator_room(module) == "graph"
    }
    assert {m: o for m, o in offenders.items() if o} == {}
