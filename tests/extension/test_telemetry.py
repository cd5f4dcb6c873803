"""The periodic stats line: one line per interval while there is traffic, silence while idle."""

from __future__ import annotations

import asyncio
import logging
import time

from lva_extension.telemetry import StreamStats, Telemetry


def stats_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("stats:")]


def test_the_stats_line_is_silent_while_idle_and_speaks_with_traffic(caplog):
    caplog.set_level(logging.INFO, logger="lva_extension")
    telemetry = Telemetry()

    async def scenario() -> tuple[list[str], list[str]]:
        reporter = asyncio.ensure_future(telemetry.report_every(0.02))
        await asyncio.sleep(0.2)  # about ten intervals with nothing happening
        idle = stats_lines(caplog)
        telemetry.stream_opened()
        telemetry.frame_acknowledged(StreamStats(), time.monotonic())
        await asyncio.sleep(0.1)
        busy = stats_lines(caplog)
        reporter.cancel()
        return idle, busy

    idle, busy = asyncio.run(scenario())

    assert idle == []
    assert busy
    assert busy[0].startswith("stats: streams_open=1 frames=1 ")
