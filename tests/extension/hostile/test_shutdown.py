"""Attack: a stream whose processor never returns, then a shutdown.

After shutdownGraceSeconds the process exits within a bounded time, whatever
its processors do (the stuck stream's client gets CANCELLED or UNAVAILABLE);
a second signal stops it at once. No processing process is left behind.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import grpc
import pytest

from tests.support.hostility import MODES, TEST_MODULES, children
from tests.support.paths import REPO
from tests.support.processes import ServerProcess, server_process
from tests.support.streams import CallOutcome, descriptor, raw_call, sample
from tests.support.waiting import wait_for

STUCK = "tests.support.hostile_plugins:NeverReturns"
FRAME = bytes(64 * 48 * 3)
BOUND = 20  # seconds from the end of the grace period to the process's exit


def start_stuck_stream(running: ServerProcess, entered: Path) -> dict[str, CallOutcome]:
    """A stream whose first frame is in a processor that never returns."""
    address = running.address
    result: dict[str, CallOutcome] = {}
    configuration = json.dumps({"processor": STUCK, "entered": str(entered)})

    def messages():
        yield descriptor(configuration=configuration)
        yield sample(2, FRAME)
        time.sleep(120)  # never half-closes

    thread = threading.Thread(
        target=lambda: result.update(outcome=raw_call(address, messages(), timeout=120)),
        daemon=True,
    )
    thread.start()
    wait_for(entered.exists, timeout=20, what="the frame to enter the stuck processor")
    return result


def alive(pids: list[int], within: float = 5) -> list[str]:
    """The command lines of those processes still alive after ``within`` seconds."""
    deadline = time.monotonic() + within
    left = pids
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = [pid for pid in left if Path(f"/proc/{pid}").exists()]
    return [Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ") for pid in left]


@pytest.mark.parametrize("mode", MODES, ids=list(MODES))
def test_the_process_exits_after_the_grace_period_though_a_processor_never_returns(mode, tmp_path):
    args = (*TEST_MODULES, "--shutdown-grace-seconds", "1", *MODES[mode])
    with server_process(*args, env={"PYTHONPATH": str(REPO)}) as running:
        result = start_stuck_stream(running, tmp_path / "entered")
        helpers = children(running.pid)
        running.process.send_signal(signal.SIGTERM)
        code = running.process.wait(timeout=1 + BOUND)
        running.stop()  # the log read to its end
        log = "\n".join(running.log)
    assert code == 0, log
    assert "stopped" in log
    assert "did not return" in log  # the log says what was abandoned
    assert alive(helpers) == []
    wait_for(lambda: "outcome" in result, timeout=10, what="the stuck stream's outcome")
    assert result["outcome"].code in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)


@pytest.mark.parametrize("mode", MODES, ids=list(MODES))
def test_a_second_signal_stops_at_once_though_a_processor_never_returns(mode, tmp_path):
    args = (*TEST_MODULES, "--shutdown-grace-seconds", "60", *MODES[mode])
    with server_process(*args, env={"PYTHONPATH": str(REPO)}) as running:
        start_stuck_stream(running, tmp_path / "entered")
        helpers = children(running.pid)
        running.process.send_signal(signal.SIGTERM)
        wait_for(lambda: "SIGTERM: stopping" in "\n".join(running.log), what="the first signal")
        assert running.process.poll() is None  # draining
        running.process.send_signal(signal.SIGINT)
        code = running.process.wait(timeout=10)
    assert code == 0
    assert alive(helpers) == []
