"""The signal gate's timing rules, as a pure function of event times (no media, no I/O).

LVA's four properties (configure-signal-gate-how-to), all media time:

- an event at E opens the gate: output starts at ``E + activationSignalOffset``
  (negative: media from before the event, which the gate keeps buffered);
- the gate stays open ``minimumActivationTime`` after the latest event, each new
  event restarting that timer, but it closes ``maximumActivationTime`` after the
  first event of the activation, whatever arrives;
- events are placed by their media time, not by when they arrive: one that
  arrives up to ``activationEvaluationWindow`` after its own media time still
  counts; one that arrives later is a *late arrival* and is dropped.

What the documentation leaves open, chosen here (simulator/README.md says so):
an event after an activation has closed starts a new activation, which never
reaches back into the previous one (no overlap); an activation whose start is
not before its end (an offset at least ``minimumActivationTime``) outputs
nothing. "Arrives" is measured on the gate's media clock: the time of the
newest media it has received.

Because an event may arrive up to the evaluation window late, and may reach
back by the offset, the gate decides whether media at time t passes once its
clock has reached ``t + hold``: the node holds that much media back.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class GateTiming:
    evaluation_window: Fraction
    offset: Fraction
    minimum: Fraction
    maximum: Fraction

    @property
    def hold(self) -> Fraction:
        """How far behind its media clock the gate decides."""
        return self.evaluation_window + max(Fraction(0), -self.offset)


@dataclass
class Activation:
    first: Fraction  # media time of the event that opened it
    start: Fraction
    end: Fraction  # exclusive; may still grow while events can arrive
    events: int = 1

    def covers(self, time: Fraction) -> bool:
        return self.start <= time < self.end


class GateCore:
    """Events in (with the clock at their arrival), activations out."""

    def __init__(self, timing: GateTiming) -> None:
        self.timing = timing
        self.activations: list[Activation] = []
        self.late: list[Fraction] = []
        self._pending: list[Fraction] = []  # accepted, not yet placed, by media time

    def offer(self, time: Fraction, clock: Fraction | None) -> bool:
        """An event at media ``time`` arrives when the gate's clock is ``clock``.

        False when it is a late arrival (dropped).
        """
        if clock is not None and clock - time > self.timing.evaluation_window:
            self.late.append(time)
            return False
        bisect.insort(self._pending, time)
        if clock is not None:
            self.settle(clock)
        return True

    def settle(self, clock: Fraction | None) -> None:
        """Place every event no earlier one can still arrive before (None: all of them)."""
        horizon = None if clock is None else clock - self.timing.evaluation_window
        while self._pending and (horizon is None or self._pending[0] <= horizon):
            self._place(self._pending.pop(0))

    def _place(self, time: Fraction) -> None:
        timing = self.timing
        current = self.activations[-1] if self.activations else None
        if current is not None and time < current.end:
            cap = current.first + timing.maximum
            current.end = min(max(current.end, time + timing.minimum), cap)
            current.events += 1
            return
        start = time + timing.offset
        if current is not None:
            start = max(start, current.end)
        end = time + min(timing.minimum, timing.maximum)
        if end > start:
            self.activations.append(Activation(time, start, end))

    def decided_until(self, clock: Fraction) -> Fraction:
        """Media up to this time is decided: no event still to come can change it."""
        return clock - self.timing.hold

    def activation_at(self, time: Fraction) -> Activation | None:
        for activation in reversed(self.activations):
            if activation.covers(time):
                return activation
            if activation.end <= time:
                return None
        return None

    def forget_before(self, time: Fraction) -> None:
        """Drop activations that ended before ``time`` (the last one is kept)."""
        while len(self.activations) > 1 and self.activations[0].end < time:
            self.activations.pop(0)


def output_intervals(
    timing: GateTiming, events: Sequence[tuple[Fraction, Fraction]]
) -> tuple[list[tuple[Fraction, Fraction]], list[Fraction]]:
    """The media intervals a gate lets through, and its late arrivals.

    ``events`` are (media time, clock at arrival) pairs, in the order they arrive.
    """
    core = GateCore(timing)
    for time, clock in events:
        core.offer(time, clock)
    core.settle(None)
    return [(a.start, a.end) for a in core.activations], core.late
