"""Attack: make the server hold more memory than its settings allow.

The documented bound (README, "Limits"): the server process's resident memory
stays under base + maxHeldMiB + FLOOD_MARGIN_MIB, whatever its clients send,
where base is the process after start-up and a few streams. These floods run
against a real ``lva-extension serve`` and sample its RSS while they last.
"""

from __future__ import annotations

import asyncio
import threading
import time

import grpc
import pytest
from lva_extension.proto import extension_pb2_grpc

from tests.support.hostility import footprint, target
from tests.support.raw_http2 import RawGrpcStream
from tests.support.streams import descriptor, sample

MAX_HELD_MIB = 64
STREAMS = 64  # maxStreams, the default
FLOOD_MARGIN_MIB = 32 + 2 * STREAMS  # the README's: 32 MiB + 2 MiB x maxStreams
WIDTH, HEIGHT = 416, 416
FRAME = bytes(WIDTH * HEIGHT * 3)


class Peak:
    """The highest RSS of a process (and its children), sampled while it runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.mib = max(self.mib, footprint(self.pid).rss_mib)
            time.sleep(0.05)

    def __enter__(self) -> Peak:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


async def never_read(address: str, seconds: float) -> None:
    """STREAMS streams over four connections, each writing frames as fast as flow
    control lets it and never reading a reply."""

    async def stream(stub: extension_pb2_grpc.MediaGraphExtensionStub) -> None:
        call = stub.ProcessMediaStream()
        await call.write(descriptor(width=WIDTH, height=HEIGHT))
        sequence = 2
        while True:
            await call.write(sample(sequence, FRAME))
            sequence += 1

    options = [("grpc.max_send_message_length", 64 << 20)]
    channels = [grpc.aio.insecure_channel(address, options=options) for _ in range(4)]
    stubs = [extension_pb2_grpc.MediaGraphExtensionStub(c) for c in channels]
    tasks = [asyncio.ensure_future(stream(stubs[i % 4])) for i in range(STREAMS)]
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for channel in channels:
        await channel.close()


def half_messages(address: str, streams: int) -> list[RawGrpcStream]:
    """Streams that send a descriptor of 1080p frames and then half of one frame's
    message, and stop there (raw HTTP/2: no gRPC client stops mid-message)."""
    connections = []
    for _ in range(streams // 16):
        connection = RawGrpcStream.connect(address)
        for _ in range(16):
            stream_id = connection.open()
            connection.send_message(
                stream_id, descriptor(width=1920, height=1080).SerializeToString()
            )
            connection.send_partial(
                stream_id, sample(2, bytes(1920 * 1080 * 3)).SerializeToString()
            )
        connections.append(connection)
    return connections


@pytest.fixture
def victim():
    with target("--max-held-mib", str(MAX_HELD_MIB)) as running:
        yield running


def test_streams_that_never_read_their_replies_stay_within_the_bound(victim):
    with Peak(victim.running.pid) as peak:
        asyncio.run(never_read(victim.address, seconds=8))
    bound = victim.baseline.rss_mib + MAX_HELD_MIB + FLOOD_MARGIN_MIB
    assert peak.mib <= bound, f"peak {peak.mib:.0f} MiB, bound {bound:.0f} MiB"
    victim.assert_unharmed()


def test_messages_stopped_halfway_stay_within_the_bound(victim):
    with Peak(victim.running.pid) as peak:
        connections = half_messages(victim.address, STREAMS)
        time.sleep(4)
        for connection in connections:
            connection.close()
    bound = victim.baseline.rss_mib + MAX_HELD_MIB + FLOOD_MARGIN_MIB
    assert peak.mib <= bound, f"peak {peak.mib:.0f} MiB, bound {bound:.0f} MiB"
    victim.assert_unharmed()
