"""MediaGraphFrameRateFilterProcessor (LVA 1.0): at most ``maximumFps`` frames a second pass."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from ..media import PICTURES, Item, Picture
from ..node import Node, NodeContext
from ..properties import Reader
from ..sampling import RateLimit


@dataclass(frozen=True)
class FrameRateFilterSpec:
    maximum_fps: Fraction


def parse(node: Reader) -> FrameRateFilterSpec:
    return FrameRateFilterSpec(node.number("maximumFps").limit_denominator(1000))


class FrameRateFilter(Node):
    wants = frozenset({PICTURES})

    def __init__(self, spec: FrameRateFilterSpec, context: NodeContext) -> None:
        super().__init__(context)
        self.rate = RateLimit(spec.maximum_fps)

    async def receive(self, item: Item, sender: str) -> None:
        if isinstance(item, Picture):
            self.context.counters.frames_in += 1
            if self.rate.admit(item.time):
                self.context.counters.passed()
                await self.context.emit(item)
