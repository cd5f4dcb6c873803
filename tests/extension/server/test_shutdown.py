"""Health, and graceful shutdown of a real server process on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from lva_extension.client import ClientOptions, ExtensionClient, StreamFormat
from lva_extension.client.clips import dark_light_frames

from tests.support.processes import ServerProcess, run_command, server_process
from tests.support.streams import descriptor, raw_call, sample
from tests.support.waiting import wait_for


def test_health_command_answers_serving_and_fails_without_a_server():
    with server_process() as running:
        result = run_command("health", "--address", running.address)
        assert (result.returncode, result.stdout.strip()) == (0, "SERVING")
        address = running.address
    result = run_command("health", "--address", address, "--timeout", "1")
    assert result.returncode == 1
    assert "UNAVAILABLE" in result.stdout


def test_sigterm_lets_the_open_stream_finish(shm_dir_clean):
    with server_process("--shutdown-grace-seconds", "10") as running:
        outcome: dict[str, object] = {}
        acked_some = threading.Event()

        async def camera() -> None:
            options = ClientOptions(
                running.address, StreamFormat(width=64, height=48), shared_memory=True, fps=30
            )
            client = ExtensionClient(options)
            results = []
            async for result in client.stream(dark_light_frames(64, 48, 90)):
                results.append(result)
                if len(results) == 5:
                    acked_some.set()
            outcome.update(results=results, summary=client.summary)

        # Watch health from a connection made before the signal.
        channel = grpc.insecure_channel(running.address)
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING

        thread = threading.Thread(target=lambda: asyncio.run(camera()))
        thread.start()
        assert acked_some.wait(timeout=20)
        running.process.send_signal(signal.SIGTERM)
        assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
        code = running.process.wait(timeout=15)
        thread.join(timeout=15)
        channel.close()

    assert code == 0
    summary = outcome["summary"]
    assert summary.violations == []
    assert summary.frames_acknowledged == summary.frames_sent == 90
    log = "\n".join(running.log)
    assert "SIGTERM: stopping" in log
    assert "status=OK reason=client finished" in log


def open_stream_forever(address: str, started: threading.Event, result: dict):
    frame = bytes(64 * 48 * 3)

    def messages():
        yield descriptor()
        yield sample(2, frame)
        started.set()
        time.sleep(60)  # never half-closes

    result["outcome"] = raw_call(address, messages(), timeout=60)


def start_endless_stream(running: ServerProcess) -> None:
    """A stream that the server has opened, that has sent a frame and never ends by itself."""
    started: threading.Event = threading.Event()
    threading.Thread(
        target=open_stream_forever, args=(running.address, started, {}), daemon=True
    ).start()
    assert started.wait(timeout=10)
    wait_for(lambda: any(" opened: " in line for line in running.log), what="the stream to open")


def test_grace_period_expiry_cancels_the_stream_and_exits_zero():
    with server_process("--shutdown-grace-seconds", "1") as running:
        start_endless_stream(running)
        began = time.monotonic()
        running.process.send_signal(signal.SIGTERM)
        code = running.process.wait(timeout=15)
        took = time.monotonic() - began
    assert code == 0
    assert took < 10  # well before the stream would have ended by itself
    log = "\n".join(running.log)
    assert "status=CANCELLED" in log


def test_a_second_signal_stops_at_once():
    with server_process("--shutdown-grace-seconds", "60") as running:
        start_endless_stream(running)
        running.process.send_signal(signal.SIGTERM)
        wait_for(lambda: "SIGTERM: stopping" in "\n".join(running.log), what="the first signal")
        assert running.process.poll() is None  # still draining
        running.process.send_signal(signal.SIGINT)
        code = running.process.wait(timeout=15)
    assert code == 0
    assert "second signal" in "\n".join(running.log)
