"""Frame-rate limits: ``samplingOptions.maximumSamplesPerSecond`` and frame rate filters.

A frame passes if it is the first of its time slot: with a limit of N per
second, slot k is [k/N, (k+1)/N) seconds of presentation time. The choice
depends only on timestamps, so it is the same however fast frames arrive.
Timestamps are taken as up to a millisecond early: containers such as
Matroska round them to milliseconds, and a 15 fps frame stamped 0.133 s
belongs to the slot that starts at 2/15 s, not to the one before.
"""

from __future__ import annotations

import math
from fractions import Fraction

TIMESTAMP_PRECISION = Fraction(1, 1000)  # seconds


class RateLimit:
    def __init__(self, max_fps: Fraction | None) -> None:
        self.max_fps = max_fps
        self._last_slot: int | None = None

    def admit(self, pts: Fraction) -> bool:
        if self.max_fps is None:
            return True
        slot = math.floor((pts + TIMESTAMP_PRECISION) * self.max_fps)
        if self._last_slot is not None and slot <= self._last_slot:
            return False
        self._last_slot = slot
        return True
