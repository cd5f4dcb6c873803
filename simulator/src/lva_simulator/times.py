"""Wall-clock time as LVA and IoT Hub print it."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z: 2020-05-12T23:33:10.392Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    """The current UTC time, as ``iso`` prints it."""
    return iso(datetime.now(UTC))
