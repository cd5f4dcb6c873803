"""One browser watching one graph instance: a latest-only buffer of frames.

The graph offers every analyzed frame; the viewer keeps only the newest of
each node until its stream takes them. A browser that reads slowly (or a
rate cap) therefore skips view frames, counted in ``skipped``, and the graph
never waits for it.
"""

from __future__ import annotations

import asyncio

from ..graph.observer import AnalyzedFrame


class Viewer:
    def __init__(self) -> None:
        self.pending: dict[str, AnalyzedFrame] = {}  # node: its newest frame not yet sent
        self.wake = asyncio.Event()
        self.shown = 0
        self.skipped = 0

    def offer(self, frame: AnalyzedFrame) -> None:
        if frame.node in self.pending:
            self.skipped += 1
        self.pending[frame.node] = frame
        self.wake.set()

    def take(self) -> list[AnalyzedFrame]:
        frames = list(self.pending.values())
        self.pending.clear()
        self.shown += len(frames)
        return frames
