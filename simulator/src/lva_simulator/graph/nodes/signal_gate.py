"""MediaGraphSignalGateProcessor: media from the camera passes while events hold it open.

Its inputs are the RTSP source (the media) and nodes that send events (motion
detection, extensions, an IoT Hub message source). The timing rules are in
gate_timing.py; this node holds media back by the gate's ``hold`` (evaluation
window plus any negative offset), then lets through what falls inside an
activation, marking each one's start and end (``open``/``close``) so a sink
makes one recording per activation. A recording must start at a keyframe, so
an activation's packets start at the last keyframe at or before its start:
a recording is up to one GOP longer than the gate's interval, never shorter
(back-to-back activations make recordings that overlap by those packets).

Defaults when a property is absent (LVA documents none; every sample sets all
four): evaluation window 1 s, offset 0, minimum and maximum 30 s.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from fractions import Fraction

from ..gate_timing import Activation, GateCore, GateTiming
from ..media import EVENTS, Event, Item, Kind, Mark, Packet, Picture
from ..node import Node, NodeContext
from ..properties import Reader

log = logging.getLogger(__name__)
SECOND = Fraction(1)


@dataclass(frozen=True)
class SignalGateSpec:
    timing: GateTiming
    media_inputs: tuple[str, ...] = ()  # set by the plan: the inputs that carry the camera's media


def parse(node: Reader) -> SignalGateSpec:
    window = node.duration("activationEvaluationWindow", "PT1S", Fraction(0), 10 * SECOND)
    offset = node.duration("activationSignalOffset", "PT0S", -60 * SECOND, 60 * SECOND)
    minimum = node.duration("minimumActivationTime", "PT30S", SECOND, 3600 * SECOND)
    maximum = node.duration("maximumActivationTime", "PT30S", SECOND, 3600 * SECOND)
    if minimum > maximum:
        node.fail(
            "minimumActivationTime",
            f"minimumActivationTime ({float(minimum):g} s) must not exceed"
            f" maximumActivationTime ({float(maximum):g} s)",
        )
    return SignalGateSpec(GateTiming(window, offset, minimum, maximum))


class SignalGate(Node):
    def __init__(self, spec: SignalGateSpec, context: NodeContext) -> None:
        super().__init__(context)
        self.spec = spec
        self.core = GateCore(spec.timing)
        self.wants: frozenset[Kind] = frozenset({EVENTS})  # the runner adds what its outputs read
        self.clock: Fraction | None = None
        self._held: deque[Packet | Picture] = deque()
        self._gop: list[
            Packet
        ] = []  # released packets since the last keyframe, outside activations
        self._open: Activation | None = None
        context.counters.state = "closed"

    async def receive(self, item: Item, sender: str) -> None:
        counters = self.context.counters
        if isinstance(item, Event):
            if sender not in self.spec.media_inputs and not self.core.offer(item.time, self.clock):
                counters.error(f"late arrival dropped: an event at {float(item.time):.3f} s")
            return
        if sender not in self.spec.media_inputs or not isinstance(item, Packet | Picture):
            return
        counters.frames_in += 1
        self.clock = item.time if self.clock is None else max(self.clock, item.time)
        self._held.append(item)
        self.core.settle(self.clock)
        await self._release(self.core.decided_until(self.clock))

    async def _release(self, until: Fraction | None) -> None:
        while self._held and (until is None or self._held[0].time <= until):
            await self._decide(self._held.popleft())
        if until is not None:
            self.core.forget_before(until - self.spec.timing.maximum)

    async def _decide(self, item: Packet | Picture) -> None:
        context = self.context
        activation = self.core.activation_at(item.time)
        if self._open is not None and activation is not self._open:
            await self._close()
        if activation is not None and self._open is None:
            self._open = activation
            context.counters.state = "open"
            log.info(
                "%s/%s: opens on an event at %.3f s: media from %.3f s",
                context.instance,
                self.name,
                activation.first,
                activation.start,
            )
            await context.emit(Mark("open", activation.start))
            if isinstance(item, Packet) and not item.keyframe:
                # Back to the keyframe the recording needs (the previous activation may
                # have had these packets too: back to back, recordings overlap by them).
                for packet in self._gop:
                    await self._pass(packet)
        if isinstance(item, Packet):
            self._gop = [item] if item.keyframe else [*self._gop, item]
        if activation is not None:
            await self._pass(item)

    async def _pass(self, item: Packet | Picture) -> None:
        self.context.counters.passed()
        await self.context.emit(item)

    async def _close(self) -> None:
        assert self._open is not None
        end, events = self._open.end, self._open.events
        self._open = None
        self.context.counters.state = "closed"
        log.info(
            "%s/%s: closes at %.3f s (%d event(s))", self.context.instance, self.name, end, events
        )
        await self.context.emit(Mark("close", end))

    async def flush(self) -> None:
        """The media has ended: place every event, let out what they cover, close."""
        self.core.settle(None)
        await self._release(None)
        if self._open is not None:
            await self._close()
