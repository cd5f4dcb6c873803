"""MediaGraphIoTHubMessageSink: the inference events of its inputs, on ``hubOutputName``.

Events, not media, leave the module on ``/messages/modules/<module>/outputs/<hubOutputName>``:
here, one JSON line each, with the subject of the node that made it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..events import subject
from ..media import EVENTS, Event, Item
from ..node import Node, NodeContext
from ..properties import Reader


@dataclass(frozen=True)
class HubSinkSpec:
    output: str


def parse(node: Reader) -> HubSinkSpec:
    output = node.text("hubOutputName")
    if not output:
        node.fail("hubOutputName", "hubOutputName is required", "PropertyRequired")
    return HubSinkSpec(output)


class HubSink(Node):
    wants = frozenset({EVENTS})

    def __init__(self, spec: HubSinkSpec, context: NodeContext) -> None:
        super().__init__(context)
        self.spec = spec

    async def receive(self, item: Item, sender: str) -> None:
        if not isinstance(item, Event):
            return
        context = self.context
        context.counters.frames_in += 1
        where = subject(context.instance, item.section, item.node)
        context.publisher.inference(where, item.body, self.spec.output)
        context.counters.passed()
