"""The node seam: media and events in, media and events out.

A node type is one module in ``nodes/`` with a ``parse`` (the node's JSON ->
its settings, problems collected with their paths) and a ``Node`` subclass. The
runner gives each node a ``NodeContext``: ``emit`` sends an item to the nodes
downstream (only the kinds each asked for, through the input's output
selectors); ``inference`` and ``module_event`` publish; ``clock`` is the
instance's media clock; ``fail`` ends the instance with a reason.

A node's life: ``receive`` for each item from an input; ``run`` as a task while
the graph runs (sources, extension streams); ``flush`` once its inputs have
ended (finish what it holds: a gate's buffer, a sink's file); ``close`` when
the instance stops.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from .events import Category, Publisher, Section, subject
from .media import Event, Item, Kind
from .observer import Counters, GraphObserver, NodeStats
from .recordings import RecordingLog


@dataclass(frozen=True)
class Playback:
    loop: bool = True  # local files start again at their end
    realtime: bool = True  # local files are played at their frame rate


@dataclass(frozen=True)
class RunOptions:
    """What the simulator's options decide for every graph."""

    playback: Playback = field(default_factory=Playback)
    assets_dir: Path = Path("assets")  # where asset sinks keep their assets
    # Where modules the graph names by host name listen (lower-case name -> host[:port]),
    # as an edge device's network resolves module names: rtspsim, grpcExtension, ...
    modules: Mapping[str, str] = field(default_factory=dict)
    volumes: Mapping[str, Path] = field(default_factory=dict)  # container path -> host folder

    def address(self, host: str, port: int) -> tuple[str, int]:
        """Where (host, port) of a graph's URL is reached: a module's address, if it is one."""
        found = self.modules.get(host.lower())
        if not found:
            return host, port
        name, _, number = found.rpartition(":") if _has_port(found) else (found, "", "")
        return name.strip("[]"), int(number) if number else port

    def host_path(self, path: str) -> Path:
        """Where a path the graph names lands, through the --volume mappings."""
        for inside, outside in sorted(self.volumes.items(), key=lambda kv: -len(kv[0])):
            base = inside.rstrip("/")
            if path == base or path.startswith(base + "/"):
                return outside / path[len(base) :].lstrip("/")
        return Path(path)


def _has_port(address: str) -> bool:
    tail = address.rsplit("]", 1)[-1]
    return ":" in tail and (address.startswith("[") or address.count(":") == 1)


class NodeContext:
    def __init__(
        self,
        *,
        instance: str,
        topology: str,
        name: str,
        section: Section,
        kind: str,
        options: RunOptions,
        publisher: Publisher,
        observer: GraphObserver,
        recordings: RecordingLog,
        clock: Callable[[], Fraction | None],
        fail: Callable[[str], None],
    ) -> None:
        self.instance = instance
        self.topology = topology
        self.name = name
        self.section = section
        self.kind = kind
        self.options = options
        self.publisher = publisher
        self.observer = observer
        self.recordings = recordings
        self.clock = clock
        self.fail = fail
        self.subject = subject(instance, section, name)
        self.counters = Counters()
        self._emit: Callable[[Item], Awaitable[None]] | None = None

    def connect(self, emit: Callable[[Item], Awaitable[None]]) -> None:
        self._emit = emit

    async def emit(self, item: Item) -> None:
        if self._emit is not None:
            await self._emit(item)

    def event(self, time: Fraction, body: dict[str, Any]) -> Event:
        return Event(time, self.name, self.section, body)

    def module_event(self, category: Category, kind: str, body: dict[str, Any]) -> None:
        self.publisher.module_event(category, kind, self.subject, body)

    def stats(self) -> NodeStats:
        return self.counters.snapshot(self.instance, self.name, self.kind)


class Node:
    """Base of every node type; a node overrides only what it does."""

    # What this node reads from its inputs. A signal gate reads what its outputs read.
    wants: frozenset[Kind] = frozenset()

    def __init__(self, context: NodeContext) -> None:
        self.context = context

    @property
    def name(self) -> str:
        return self.context.name

    async def receive(self, item: Item, sender: str) -> None:
        """One item from the input ``sender``."""

    async def run(self) -> None:
        """Background work while the graph runs (a source's reading loop)."""

    def check(self) -> str | None:
        """Why the node cannot start (a missing file), or None."""
        return None

    async def flush(self) -> None:
        """The inputs have ended: finish what is held."""

    async def close(self) -> None:
        """The instance stops: release what the node holds."""
