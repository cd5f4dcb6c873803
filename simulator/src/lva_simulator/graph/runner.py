"""Running one active graph instance: nodes built from the plan, wired, started, stopped.

Items flow by ``await``: the camera's reading loop hands each packet and
picture to the nodes that asked for that kind, through each input's output
selectors, and they pass on what they make the same way. Nodes that wait on
the network (extensions) keep a short queue of their own: behind a live
camera a slow one loses frames, as in LVA; with a file played as fast as the
graph takes it, the source waits for it instead.

Two endings: the source runs out (a file played once) and every node
downstream finishes what it holds, in order (``wait``); or the instance is
deactivated (``stop``): reading and extension streams are cancelled, gates
and sinks finish their recordings.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .events import Publisher
from .extension import ExtensionNode
from .media import EVENTS, PACKETS, PICTURES, Item, Kind, kind_of
from .node import Node, NodeContext, RunOptions
from .nodes import TYPES
from .nodes.hub_source import HubSource
from .nodes.rtsp_source import RtspSource
from .nodes.signal_gate import SignalGate
from .observer import GraphObserver, NodeStats, NullObserver
from .plan import GraphPlan, InputPlan
from .recorder import Recorder
from .recordings import Recording, RecordingLog

log = logging.getLogger(__name__)

STATS_SECONDS = 1.0
MEDIA_KINDS = frozenset({PACKETS, PICTURES})


@dataclass
class Environment:
    """What every graph of one simulator shares."""

    options: RunOptions
    publisher: Publisher
    recordings: RecordingLog = field(default_factory=RecordingLog)

    @property
    def observer(self) -> GraphObserver:
        return self.publisher.observer


@dataclass(frozen=True)
class _Edge:
    target: Node
    input: InputPlan

    def admits(self, item: Item) -> bool:
        kind = kind_of(item)
        wants = self.target.wants
        if kind is None:  # a mark: it goes with the packets it bounds
            return PACKETS in wants
        if kind == EVENTS:
            return EVENTS in wants
        return kind in wants and self.input.admits("video")


class GraphRun:
    """The nodes and tasks of one active graph instance."""

    def __init__(
        self,
        plan: GraphPlan,
        environment: Environment,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.plan = plan
        self.environment = environment
        self.on_failure = on_failure or (lambda reason: None)
        self.nodes: dict[str, Node] = {}
        self._edges: dict[str, list[_Edge]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        for node_plan in plan.nodes:
            node = self._build(node_plan.name, node_plan.section, node_plan.kind, node_plan.spec)
            self.nodes[node_plan.name] = node
            self._edges[node_plan.name] = []
            for entry in node_plan.inputs:
                self._edges[entry.node].append(_Edge(node, entry))
        self._settle_kinds()

    def _build(self, name: str, section: Any, kind: str, spec: Any) -> Node:
        environment = self.environment
        context = NodeContext(
            instance=self.plan.instance,
            topology=self.plan.topology,
            name=name,
            section=section,
            kind=kind,
            options=environment.options,
            publisher=environment.publisher,
            observer=environment.observer,
            recordings=environment.recordings,
            clock=self.clock,
            fail=self._failed,
        )
        node = TYPES[kind.lower()].create(spec, context)
        context.connect(lambda item: self._send(name, item))
        return node

    def _settle_kinds(self) -> None:
        """What each gate passes and each source reads: what the nodes after them ask for."""
        for node_plan in reversed(self.plan.nodes):
            node = self.nodes[node_plan.name]
            downstream: set[Kind] = set()
            for edge in self._edges[node.name]:
                if edge.input.admits("video"):
                    downstream |= edge.target.wants & MEDIA_KINDS
            if isinstance(node, SignalGate):
                node.wants = frozenset({EVENTS, *downstream})
            elif isinstance(node, RtspSource):
                node.produces = frozenset(downstream)
            elif isinstance(node, Recorder):
                node.gated = any(
                    isinstance(self.nodes[i.node], SignalGate) for i in node_plan.inputs
                )
        live = self.environment.options.playback.realtime or any(
            isinstance(n, RtspSource) and n.path is None for n in self.nodes.values()
        )
        for node in self.nodes.values():
            if isinstance(node, ExtensionNode):
                node.lossy = live

    async def _send(self, sender: str, item: Item) -> None:
        for edge in self._edges[sender]:
            if not edge.admits(item):
                continue
            try:
                await edge.target.receive(item, sender)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a bug in one node: say so, keep the graph running
                edge.target.context.counters.error(str(error))
                log.exception("%s/%s failed on an item", self.plan.instance, edge.target.name)

    def clock(self) -> Fraction | None:
        """The instance's media clock: the newest media time from the camera."""
        times = [n.clock for n in self.nodes.values() if isinstance(n, RtspSource) and n.clock]
        return max(times) if times else None

    def on_disk(self) -> list[Recording]:
        """What this graph's sinks left on disk (its instance's earlier runs)."""
        return [r for n in self.nodes.values() if isinstance(n, Recorder) for r in n.on_disk()]

    def problems(self) -> list[str]:
        """What keeps the graph from starting (a missing video file)."""
        return [p for p in (n.check() for n in self.nodes.values()) if p]

    def start(self) -> None:
        for name, node in self.nodes.items():
            self._tasks.append(self._task(node.run(), name))
        sources = [
            t
            for t, n in zip(self._tasks, self.nodes.values(), strict=True)
            if isinstance(n, RtspSource)
        ]
        self._supervisor = self._task(self._drain_after(sources), "drain")
        observer = self.environment.observer
        observer.instance_started(self.plan.instance, self.plan.topology)
        if not isinstance(observer, NullObserver):
            self._tasks.append(self._task(self._report_stats(), "stats"))
        log.info(
            "graph instance %s is running (topology %s)", self.plan.instance, self.plan.topology
        )

    def _task(self, coroutine: Coroutine[Any, Any, None], what: str) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coroutine)
        task.add_done_callback(lambda t: self._finished(t, what))
        return task

    def _finished(self, task: asyncio.Task[None], what: str) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if isinstance(error, ValueError | RuntimeError):
            log.error("graph instance %s, %s: %s", self.plan.instance, what, error)
        elif error is not None:
            log.error("graph instance %s, %s failed", self.plan.instance, what, exc_info=error)

    async def _drain_after(self, sources: list[asyncio.Task[None]]) -> None:
        await asyncio.gather(*sources, return_exceptions=True)
        await self._flush()

    async def _flush(self) -> None:
        for name, node in self.nodes.items():
            if isinstance(node, RtspSource | HubSource):
                continue
            try:
                await node.flush()
            except Exception:
                log.exception("%s/%s could not finish", self.plan.instance, name)

    async def _report_stats(self) -> None:
        while True:
            await asyncio.sleep(STATS_SECONDS)
            self.environment.observer.node_stats(self.stats())

    def stats(self) -> list[NodeStats]:
        return [node.context.stats() for node in self.nodes.values()]

    async def deliver(self, input_name: str, body: dict[str, Any]) -> int:
        """A message to the module's input: to each IoT Hub message source reading it."""
        sources = [
            n
            for n in self.nodes.values()
            if isinstance(n, HubSource) and n.spec.input == input_name
        ]
        for source in sources:
            await source.deliver(body)
        return len(sources)

    def _failed(self, reason: str) -> None:
        if not self._stopping:
            log.error("graph instance %s ends: %s", self.plan.instance, reason)
            self.on_failure(reason)

    async def wait(self) -> None:
        """Until the sources have ended and every node has finished what it held."""
        if self._supervisor is not None:
            await asyncio.shield(self._supervisor)

    @property
    def finished(self) -> bool:
        return self._supervisor is not None and self._supervisor.done()

    async def stop(self) -> None:
        self._stopping = True
        pending = [t for t in (*self._tasks, self._supervisor) if t is not None]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self._flush()
        for node in self.nodes.values():
            await node.close()
        final = self.stats()
        self.environment.observer.node_stats(final)
        self.environment.observer.instance_stopped(self.plan.instance)
        for stats in final:
            latency = ""
            if stats.latency_p50_ms is not None and stats.latency_p99_ms is not None:
                latency = f"; latency p50 {stats.latency_p50_ms:.1f} ms"
                latency += f", p99 {stats.latency_p99_ms:.1f} ms"
            log.info(
                "graph instance %s, node %s: %d in, %d out, %d errors%s",
                stats.instance,
                stats.node,
                stats.frames_in,
                stats.frames_out,
                stats.errors,
                latency,
            )
