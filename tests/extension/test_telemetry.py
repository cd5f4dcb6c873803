"""The periodic stats line: one line per interval while there is traffic, silence while idle."""

from __future__ import annotations

import asyncio
import logging
import time

from lva_extension.telemetry import StreamStats, Telemetry

from tests.support.waiting import eventually


def stats_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("stats:")]


def test_the_stats_line_is_silent_while_idle_and_speaks_with_traffic(caplog):
    caplog.set_level(logging.INFO, logger="lva_extension")
    telemetry = Telemetry()

    async def scenario() -> tuple[list[str], list[str]]:
        reporter = asyncio.ensure_future(telemetry.report_every(0.02))
        # The point of the test: about ten intervals pass with nothing happening (on a
        # loaded machine fewer, which can only make the test easier, never fail it).
        await asyncio.sleep(0.2)
        idle = stats_lines(caplog)
        telemetry.stream_opened()
        telemetry.frame_acknowledged(StreamStats(), time.monotonic())
        busy = await eventually(lambda: stats_lines(caplog), within=10, what="a stats line")
        reporter.cancel()
        return idle, busy

    idle, busy = asyncio.run(scenario())

    assert idle == []
    assert busy
    assert busy[0].startswith("stats: streams_open=1 frames=1 ")
