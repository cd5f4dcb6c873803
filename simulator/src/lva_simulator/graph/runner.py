"""Running one active graph instance: sources feed extension nodes, which feed sinks.

Each extension node has its own queue of frames, filled by its source after
that node's frame-rate limit. With realtime playback a node that falls behind
loses frames (a live camera does not wait); otherwise the source waits for the
slowest node, so every admitted frame is processed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from .events import InferenceEvent, MessageWriter
from .nodes.grpc_extension import ExtensionNode
from .nodes.rtsp_source import Playback, VideoFrame, VideoSource
from .plan import GraphPlan
from .sampling import RateLimit

log = logging.getLogger(__name__)

QUEUE_FRAMES = 16


@dataclass
class _Feed:
    node: ExtensionNode
    limit: RateLimit
    queue: asyncio.Queue[VideoFrame | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_FRAMES)
    )
    dropped: int = 0


class GraphRun:
    """The tasks of one active graph instance."""

    def __init__(self, plan: GraphPlan, writer: MessageWriter, playback: Playback) -> None:
        self.plan = plan
        self.writer = writer
        self.playback = playback
        self.sources = {s.name: VideoSource(s, playback) for s in plan.sources}
        self.feeds = [
            _Feed(ExtensionNode(spec, plan.instance, self._publish), RateLimit(spec.max_fps))
            for spec in plan.extensions
        ]
        self._outputs: dict[str, list[str]] = {}
        for sink in plan.sinks:
            for node in sink.inputs:
                self._outputs.setdefault(node, []).append(sink.hub_output_name)
        self._tasks: list[asyncio.Task[None]] = []

    def problems(self) -> list[str]:
        """What keeps the graph from starting (a missing video file)."""
        return [p for p in (s.check() for s in self.sources.values()) if p]

    def start(self) -> None:
        for name, source in self.sources.items():
            feeds = [f for f in self.feeds if f.node.spec.source == name]
            self._tasks.append(self._task(self._pump(source, feeds), f"source {name}"))
        for feed in self.feeds:
            self._tasks.append(
                self._task(feed.node.run(feed.queue.get), f"node {feed.node.spec.name}")
            )
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
        if isinstance(error, ValueError):
            log.error("graph instance %s, %s: %s", self.plan.instance, what, error)
        elif error is not None:
            log.error("graph instance %s, %s failed", self.plan.instance, what, exc_info=error)

    async def _pump(self, source: VideoSource, feeds: list[_Feed]) -> None:
        try:
            async for frame in source.frames():
                for feed in feeds:
                    if not feed.limit.admit(frame.pts):
                        continue
                    if not self.playback.realtime:
                        await feed.queue.put(frame)
                    elif feed.queue.full():
                        feed.dropped += 1
                    else:
                        feed.queue.put_nowait(frame)
        except Exception as error:  # a broken file: end the nodes, say why
            log.error(
                "graph instance %s, source %s: %s", self.plan.instance, source.spec.name, error
            )
            for feed in feeds:
                if feed.queue.full():
                    feed.queue.get_nowait()
                feed.queue.put_nowait(None)
            return
        for feed in feeds:
            await feed.queue.put(None)

    def _publish(self, event: InferenceEvent) -> None:
        for output in self._outputs.get(event.node, []):
            self.writer.publish(event, output)

    async def wait(self) -> None:
        """Until every extension node has finished (the sources ended)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def finished(self) -> bool:
        return all(task.done() for task in self._tasks)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for feed in self.feeds:
            stats = feed.node.stats
            log.info(
                "graph instance %s, node %s: %d frames sent, %d answered, %d dropped;"
                " latency p50 %.1f ms, p99 %.1f ms",
                self.plan.instance,
                feed.node.spec.name,
                stats.frames_sent,
                stats.results,
                feed.dropped,
                stats.latency_ms(50),
                stats.latency_ms(99),
            )
