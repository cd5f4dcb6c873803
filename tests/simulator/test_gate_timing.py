"""The signal gate's timing rules as a table: event times (and when they arrive) -> output."""

from __future__ import annotations

from fractions import Fraction

import pytest
from lva_simulator.graph.gate_timing import GateCore, GateTiming, output_intervals


def timing(window: float, offset: float, minimum: float, maximum: float) -> GateTiming:
    return GateTiming(*(Fraction(str(x)) for x in (window, offset, minimum, maximum)))


def on_time(*times: float) -> list[tuple[Fraction, Fraction]]:
    """Events that arrive at their own media time."""
    return [(Fraction(str(t)), Fraction(str(t))) for t in times]


def frac(pairs):
    return [(Fraction(str(a)), Fraction(str(b))) for a, b in pairs]


TABLE = [
    # (name, timing (window, offset, min, max), events (time, arrival), intervals, late)
    ("one event: [E, E+min]", timing(1, 0, 2, 5), on_time(10), [(10, 12)], []),
    (
        "negative offset: media from before the event",
        timing(1, -3, 2, 5),
        on_time(10),
        [(7, 12)],
        [],
    ),
    ("positive offset", timing(1, 1, 3, 5), on_time(10), [(11, 13)], []),
    ("an offset past the minimum lets nothing out", timing(1, 3, 2, 5), on_time(10), [], []),
    ("an offset equal to the minimum lets nothing out", timing(1, 2, 2, 5), on_time(10), [], []),
    ("a new event restarts the minimum", timing(1, 0, 2, 5), on_time(10, 11), [(10, 13)], []),
    (
        "retriggered: -offset + (E2-E1) + min",
        timing(1, -1, 2, 5),
        on_time(10, 11.5),
        [(9, 13.5)],
        [],
    ),
    (
        "continuous: closed at E1+max, then a new activation",
        timing(1, 0, 2, 5),
        on_time(*[10 + i / 2 for i in range(21)]),  # every 0.5 s from 10 to 20
        [(10, 15), (15, 20), (20, 22)],
        [],
    ),
    (
        "an event at the end starts anew",
        timing(1, 0, 2, 5),
        on_time(10, 12),
        [(10, 12), (12, 14)],
        [],
    ),
    ("apart: two activations", timing(1, 0, 2, 5), on_time(10, 20), [(10, 12), (20, 22)], []),
    (
        "no reaching back into the previous activation",
        timing(1, -3, 2, 5),
        on_time(10, 13),
        [(7, 12), (12, 15)],
        [],
    ),
    (
        "an older event arriving within the window counts, by media time",
        timing(1, 0, 2, 5),
        frac([(11, 11), (10.5, 11.2)]),
        [(10.5, 13)],
        [],
    ),
    ("a late arrival is dropped", timing(1, 0, 2, 5), frac([(10, 12)]), [], [10]),
    (
        "an event exactly the window late still counts",
        timing(1, 0, 2, 5),
        frac([(10, 11)]),
        [(10, 12)],
        [],
    ),
    (
        "late relative to the window, not to other events",
        timing(2, 0, 2, 5),
        frac([(10, 11.5), (9, 11.6)]),
        [(10, 12)],
        [9],
    ),
    (
        "a zero window drops anything behind the clock",
        timing(0, 0, 2, 5),
        frac([(10, 10.1)]),
        [],
        [10],
    ),
    ("max equal to min: no extension", timing(1, 0, 3, 3), on_time(10, 12), [(10, 13)], []),
]


@pytest.mark.parametrize(
    ("gate", "events", "intervals", "late"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_output_intervals(gate, events, intervals, late):
    found, dropped = output_intervals(gate, events)
    assert found == frac(intervals)
    assert dropped == [Fraction(str(t)) for t in late]


def test_media_is_decided_once_no_event_can_still_change_it():
    gate = timing(1, -2, 2, 5)  # hold: the 1 s window plus the 2 s it may reach back
    core = GateCore(gate)
    assert gate.hold == 3
    core.offer(Fraction(10), Fraction(10))
    core.settle(Fraction(10))
    assert core.decided_until(Fraction(10)) == 7
    # Not placed yet: an event at 9.5 may still arrive and would come first.
    assert core.activation_at(Fraction(8)) is None
    core.settle(Fraction(11))
    activation = core.activation_at(Fraction(8))
    assert activation is not None and (activation.start, activation.end) == (8, 12)
    assert core.activation_at(Fraction(12)) is None


def test_offer_says_whether_the_event_counts():
    """The gate node reports a late arrival (as an error on its counters) when this is False."""
    core = GateCore(timing(1, 0, 2, 5))
    assert core.offer(Fraction(10), Fraction(10)) is True
    assert core.offer(Fraction(8), Fraction(10)) is False
    assert core.late == [8]


def test_an_event_is_placed_as_soon_as_no_earlier_one_can_arrive():
    core = GateCore(timing(1, 0, 2, 5))
    core.offer(Fraction(10), Fraction(10.5))  # one at 9.6 could still come: not placed yet
    assert core.activations == []
    core.offer(Fraction(10.5), Fraction(11))  # the clock passed 10 + window: 10 is placed
    [activation] = core.activations
    assert (activation.start, activation.end) == (10, 12)


def test_each_activation_counts_its_events():
    """The gate's close line says how many events an activation had."""
    found = GateCore(timing(1, 0, 2, 5))
    for time, clock in on_time(10, 11, 11.5, 20):
        found.offer(time, clock)
    found.settle(None)
    assert [(a.first, a.events) for a in found.activations] == [(10, 3), (20, 1)]


def test_forget_before_drops_what_ended_before_and_keeps_the_last():
    core = GateCore(timing(1, 0, 2, 5))
    for time, clock in on_time(10, 20, 30):
        core.offer(time, clock)
    core.settle(None)
    firsts = lambda: [a.first for a in core.activations]  # noqa: E731
    core.forget_before(Fraction(11))
    assert firsts() == [10, 20, 30]
    core.forget_before(Fraction(21))
    assert firsts() == [20, 30]
    core.forget_before(Fraction(25))
    assert firsts() == [30]
    core.forget_before(Fraction(100))  # the last one stays: a new event may extend it
    assert firsts() == [30]
    core.offer(Fraction(31), None)
    core.settle(None)
    assert [(a.start, a.end) for a in core.activations] == [(30, 33)]
