"""Wall-clock time as LVA and IoT Hub print it."""

from __future__ import annotations

from datetime import UTC, datetime


def now_iso() -> str:
    """The current UTC time, ISO 8601 with milliseconds and a Z: 2020-05-12T23:33:10.392Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
