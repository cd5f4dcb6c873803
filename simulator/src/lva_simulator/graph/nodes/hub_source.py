"""MediaGraphIoTHubMessageSource: messages sent to the module's input ``hubInputName``.

Each message is an event for the nodes it feeds (a signal gate opens on it).
A message has no media time of its own (the samples' sender copies an
inference's wall-clock ``eventTime``, whose use by LVA is undocumented), so
it is placed at the instance's media clock when it arrives: the newest media
the camera delivered. Send one with ``lva-simulator send-message`` or
``POST /devices/{device}/modules/{module}/inputs/{input}/messages``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..node import Node, NodeContext
from ..properties import Reader


@dataclass(frozen=True)
class HubSourceSpec:
    input: str


def parse(node: Reader) -> HubSourceSpec:
    name = node.text("hubInputName")
    if not name:
        node.fail("hubInputName", "hubInputName is required", "PropertyRequired")
    return HubSourceSpec(name)


class HubSource(Node):
    def __init__(self, spec: HubSourceSpec, context: NodeContext) -> None:
        super().__init__(context)
        self.spec = spec

    async def deliver(self, body: dict[str, Any]) -> None:
        context = self.context
        context.counters.frames_in += 1
        time = context.clock() or Fraction(0)
        await context.emit(context.event(time, body))
        context.counters.passed()
