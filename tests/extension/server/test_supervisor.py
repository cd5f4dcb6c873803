"""workers > 1: several server processes share the port; the supervisor keeps them up."""

from __future__ import annotations

import asyncio
import os
import re
import signal

from lva_extension.client import ClientOptions, ExtensionClient, StreamFormat
from lva_extension.client.clips import dark_light_frames

from tests.support.processes import ServerProcess, run_command, server_process
from tests.support.waiting import wait_for

OPENED = re.compile(r"\[(\d+)\] lva_extension.stream.conversation: stream from \S+ opened")


def worker_pids(supervisor: int) -> set[int]:
    children = f"/proc/{supervisor}/task/{supervisor}/children"
    return {int(pid) for pid in open(children).read().split()}


def serving(running: ServerProcess) -> int:
    """How many workers have said they serve."""
    return sum("serving the LVA" in line for line in running.log)


def both_serving(running: ServerProcess) -> bool:
    return serving(running) >= 2


def test_streams_are_spread_over_the_workers_and_all_served():
    with server_process("--workers", "2") as running:
        wait_for(lambda: both_serving(running), timeout=20, what="the second worker to start")

        async def camera(index: int) -> int:
            # A channel of its own: a new connection, which the kernel may give either worker.
            options = ClientOptions(
                running.address,
                StreamFormat(width=32, height=32),
                graph_instance=f"cam{index}",
                # gRPC shares one connection between a process's channels otherwise.
                channel_options=(("grpc.use_local_subchannel_pool", 1),),
            )
            client = ExtensionClient(options)
            count = len([r async for r in client.stream(dark_light_frames(32, 32, 5))])
            assert client.summary.violations == []
            return count

        async def cameras() -> list[int]:
            return await asyncio.gather(*(camera(i) for i in range(16)))

        assert asyncio.run(cameras()) == [5] * 16
        workers = worker_pids(running.pid)
        assert len(workers) == 2
        served_by = {int(m[1]) for line in running.log if (m := OPENED.search(line))}
        assert served_by == workers
        assert run_command("health", "--address", running.address).returncode == 0
    assert running.process.returncode == 0
    assert not [pid for pid in workers if os.path.exists(f"/proc/{pid}")]


def test_a_worker_that_dies_is_restarted():
    with server_process("--workers", "2") as running:
        wait_for(lambda: both_serving(running), timeout=20, what="the second worker to start")
        first = worker_pids(running.pid)
        os.kill(min(first), signal.SIGKILL)
        wait_for(lambda: worker_pids(running.pid) - first, timeout=20, what="a new worker")
        now = worker_pids(running.pid)
        assert len(now) == 2
        assert min(first) not in now
        # Restarted means serving again (and a worker stopped while it starts up is
        # another test's matter).
        wait_for(lambda: serving(running) >= 3, timeout=30, what="the new worker to serve")
    assert "restarting it" in "\n".join(running.log)


def test_a_signal_while_a_worker_is_being_restarted_stops_the_server():
    with server_process("--workers", "2") as running:
        wait_for(lambda: both_serving(running), timeout=20, what="the second worker to start")
        os.kill(min(worker_pids(running.pid)), signal.SIGKILL)
        wait_for(lambda: "restarting it" in "\n".join(running.log), what="the restart to begin")
        running.process.send_signal(signal.SIGTERM)  # within the restart's one-second delay
        workers = worker_pids(running.pid)
        assert running.process.wait(timeout=30) == 0  # no worker started after the signal
    assert not [pid for pid in workers if os.path.exists(f"/proc/{pid}")]


def test_workers_need_a_tcp_binding():
    result = run_command(
        "serve", "--workers", "2", "--grpc-binding", "unix:///tmp/lva-test.sock", timeout=30
    )
    assert result.returncode == 2
    assert "workers: more than 1 needs a tcp:// grpcBinding" in result.stderr
