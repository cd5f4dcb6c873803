"""maxStreams, maxHeldMiB, the stats line and the metrics endpoint."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import urllib.request

import grpc
import numpy as np
from lva_extension.client import ClientOptions, ExtensionClient, StreamFormat
from lva_extension.client.clips import dark_light_frames
from lva_extension.proto import extension_pb2_grpc

from tests.support.streams import descriptor, raw_call, run_client, sample


def test_one_stream_too_many_gets_resource_exhausted(start_server):
    server = start_server(max_streams=3)

    async def scenario() -> list[str]:
        async with grpc.aio.insecure_channel(server.address) as channel:
            stub = extension_pb2_grpc.MediaGraphExtensionStub(channel)
            calls = [stub.ProcessMediaStream() for _ in range(4)]
            outcomes = []
            for call in calls:
                try:
                    await call.write(descriptor())
                    reply = await call.read()
                    outcomes.append("served" if reply.ack_sequence_number == 1 else "?")
                except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
                    # Refused before we wrote: the call is already over.
                    outcomes.append(f"{(await call.code()).name}: {await call.details()}")
            for call in calls:
                call.cancel()
            return outcomes

    outcomes = asyncio.run(scenario())
    refused = [o for o in outcomes if o != "served"]
    assert outcomes.count("served") == 3
    assert len(refused) == 1
    assert refused[0].startswith("RESOURCE_EXHAUSTED: this server serves at most 3 streams")
    # The slots are free again once those streams end (a moment after the cancels).
    deadline = time.monotonic() + 5
    while server.server.open_streams and time.monotonic() < deadline:
        time.sleep(0.05)
    results, _ = run_client(
        ClientOptions(server.address, StreamFormat(width=32, height=32)),
        dark_light_frames(32, 32, 2),
    )
    assert len(results) == 2


def test_frame_larger_than_the_byte_budget_is_refused(start_server):
    server = start_server(max_held_mib=1)
    big = bytes(1024 * 512 * 3)  # 1.5 MiB
    outcome = raw_call(server.address, [descriptor(width=1024, height=512), sample(2, big)])
    assert outcome.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "maxHeldMiB" in outcome.details


def test_streams_share_the_byte_budget_and_all_finish(start_server):
    server = start_server(max_held_mib=1)  # room for one 700 KB frame at a time

    async def camera(index: int) -> int:
        options = ClientOptions(server.address, StreamFormat(width=480, height=480), window=4)
        client = ExtensionClient(options)
        frames = [np.full((480, 480, 3), 30, np.uint8)] * 10
        count = len([r async for r in client.stream(frames)])
        assert client.summary.violations == []
        return count

    async def cameras() -> list[int]:
        return await asyncio.gather(*(camera(i) for i in range(4)))

    assert asyncio.run(cameras()) == [10] * 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_prometheus_metrics(start_server):
    port = free_port()
    server = start_server(metrics_port=port)
    run_client(
        ClientOptions(server.address, StreamFormat(width=32, height=32)),
        dark_light_frames(32, 32, 7),
    )
    raw_call(server.address, [descriptor(configuration="nope")])

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()

    assert "lva_extension_frames_total 7.0" in text
    assert "lva_extension_frame_latency_seconds_count 7.0" in text
    assert 'lva_extension_streams_closed_total{status="OK"} 1.0' in text
    assert "lva_extension_streams_open 0.0" in text


def test_periodic_stats_line(start_server, caplog):
    caplog.set_level(logging.INFO, logger="lva_extension")
    server = start_server(stats_interval_seconds=0.2)
    options = ClientOptions(server.address, StreamFormat(width=32, height=32), fps=20)
    run_client(options, dark_light_frames(32, 32, 10))
    stats = [r.getMessage() for r in caplog.records if r.getMessage().startswith("stats:")]
    assert stats
    assert "frames=" in stats[-1]


def test_processor_errors_are_counted_in_the_close_line(server, caplog):
    caplog.set_level(logging.INFO, logger="lva_extension")
    options = ClientOptions(
        server.address,
        StreamFormat(width=32, height=32),
        extension_configuration="tests.support.processors:FailEveryThird",
        window=1,
    )
    run_client(options, dark_light_frames(32, 32, 9))
    # The close line is written once the call is over, a moment after the client's end.
    deadline = time.monotonic() + 5
    while not (closed := [m for m in map(str, caplog.messages) if " closed: " in m]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert len(closed) == 1 and "processor_errors=3" in closed[0]
    failures = [r for r in caplog.records if "failed on 1 frame" in r.getMessage()]
    assert (
        failures[0].levelno == logging.ERROR and failures[0].exc_info
    )  # first one, with traceback
    assert all(r.levelno == logging.DEBUG for r in failures[1:])
