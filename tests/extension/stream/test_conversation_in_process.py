"""The conversation's logic in-process, against a fake client: no sockets.

The same behaviours are tested over real gRPC in test_conversation.py; these
pin the rules themselves (handshake, sequence numbers, one ack per sample,
backpressure, what ends a stream) where a failure points at one class.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from lva_extension.errors import ClientGone, InvalidArgument, ResourceExhausted
from lva_extension.stream.conversation import Conversation
from lva_extension.stream.limits import ByteBudget

from tests.support.fakes import FakeClient, converse, messages, resources
from tests.support.processors import Gate
from tests.support.streams import Format, descriptor, sample
from tests.support.waiting import eventually

DARK = FRAME = bytes(64 * 48 * 3)
GATE = "tests.support.processors:Gate"
LIGHT = bytes([230]) * (64 * 48 * 3)


def test_descriptor_then_one_ack_per_sample_with_its_own_result():
    client = FakeClient(messages(descriptor(), sample(2, DARK), sample(3, LIGHT), sample(4, DARK)))

    asyncio.run(converse(client))

    first = client.written[0]
    assert (first.sequence_number, first.ack_sequence_number) == (1, 1)
    assert first.media_stream_descriptor.extension_identifier == "lva-extension"
    assert [m.sequence_number for m in client.written] == [1, 2, 3, 4]
    assert sorted(client.acks) == [2, 3, 4]
    by_ack = {m.ack_sequence_number: m.media_sample for m in client.written[1:]}
    assert [by_ack[s].inferences[0].classification.tag.value for s in (2, 3, 4)] == [
        "dark",
        "light",
        "dark",
    ]
    assert [by_ack[s].timestamp for s in (2, 3, 4)] == [6000, 9000, 12000]


@pytest.mark.parametrize(
    ("requests", "error", "message"),
    [
        ([sample(1, FRAME)], InvalidArgument, "first message must carry a media_stream_desc"),
        ([descriptor(sequence=2)], InvalidArgument, "the descriptor must be message 1, got 2"),
        ([descriptor(), sample(3, FRAME)], InvalidArgument, "expected 2, got 3"),
        ([descriptor(), descriptor(sequence=2)], InvalidArgument, "expected a media_sample"),
        ([descriptor(configuration="nope")], InvalidArgument, "unknown processor 'nope'"),
    ],
)
def test_what_ends_a_stream_with_which_error(requests, error, message):
    client = FakeClient(requests)
    with pytest.raises(error, match=message):
        asyncio.run(converse(client))


def test_a_client_that_stops_reading_is_gone():
    client = FakeClient(messages(descriptor()), fail_writes=True)
    with pytest.raises(ClientGone):
        asyncio.run(converse(client))


def test_no_more_than_max_in_flight_samples_are_read_while_processing_waits():
    Gate.reset()
    requests = messages(
        descriptor(configuration="tests.support.processors:Gate"),
        (sample(s, FRAME) for s in range(2, 12)),
    )
    client = FakeClient(requests)

    async def scenario() -> int:
        conversation = asyncio.ensure_future(converse(client, max_in_flight=3))
        await asyncio.to_thread(Gate.entered.wait, 10)
        await eventually(lambda: client.read >= 1 + 3, within=10, what="the window's samples")
        for _ in range(50):  # turns of the loop: give the reader every chance to read ahead
            await asyncio.sleep(0)
        read_while_blocked = client.read
        Gate.release.set()
        await conversation
        return read_while_blocked

    read_while_blocked = asyncio.run(scenario())

    # The descriptor and the three samples in flight: a place in the window is
    # taken before a message is read, so none waits in memory to be admitted.
    assert read_while_blocked == 1 + 3
    assert sorted(client.acks) == list(range(2, 12))


def test_streams_beyond_max_streams_are_refused_before_their_descriptor_is_served():
    async def scenario() -> None:
        with ThreadPoolExecutor(1) as executor:
            shared = resources(executor, max_streams=1)
            held = threading.Event()
            release = asyncio.Event()
            first = FakeClient(messages(descriptor()))

            async def slow_write(message):
                held.set()
                await release.wait()  # the first stream is busy until the second is refused
                first.written.append(message)

            one = asyncio.ensure_future(
                Conversation(shared, "one").handle(first.messages(), slow_write)
            )
            await asyncio.to_thread(held.wait, 10)
            second = FakeClient(messages(descriptor()))
            with pytest.raises(ResourceExhausted, match="at most 1 streams"):
                await Conversation(shared, "two").handle(second.messages(), second.write)
            release.set()
            await one
            assert second.written == []

    asyncio.run(scenario())


def test_the_default_in_flight_window_is_sixteen_samples():
    Gate.reset()
    client = FakeClient(
        messages(
            descriptor(configuration="tests.support.processors:Gate"),
            (sample(s, FRAME) for s in range(2, 40)),
        )
    )

    async def scenario() -> int:
        conversation = asyncio.ensure_future(converse(client))
        await asyncio.to_thread(Gate.entered.wait, 10)
        await eventually(lambda: client.read >= 1 + 16, within=10, what="the window's samples")
        for _ in range(100):  # turns of the loop: give the reader every chance to read ahead
            await asyncio.sleep(0)
        read_while_blocked = client.read
        Gate.release.set()
        await conversation
        return read_while_blocked

    # The descriptor and sixteen samples: a place in the window is taken before a
    # message is read, so none waits in memory to be admitted.
    assert asyncio.run(scenario()) == 1 + 16
    assert sorted(client.acks) == list(range(2, 40))


class PeakBudget(ByteBudget):
    """A ByteBudget that remembers the most it ever held."""

    peak = 0

    async def acquire(self, size: int) -> None:
        await super().acquire(size)
        self.peak = max(self.peak, self.held)


def test_streams_never_hold_more_embedded_bytes_than_max_held_mib_together():
    Gate.reset()
    frame = bytes(400 * 1024)  # 400 KiB: two fit in 1 MiB, three do not
    clients = [
        FakeClient(
            messages(
                descriptor(width=400, height=256, pixel_format=Format.RGBA, configuration=GATE),
                (sample(s, frame) for s in range(2, 12)),
            )
        )
        for _ in range(4)
    ]

    async def scenario(budget: PeakBudget) -> int:
        with ThreadPoolExecutor(8) as executor:
            shared = replace(resources(executor, max_held_mib=1), budget=budget)
            streams = [
                asyncio.ensure_future(
                    Conversation(shared, f"camera-{i}").handle(c.messages(), c.write)
                )
                for i, c in enumerate(clients)
            ]
            await asyncio.to_thread(Gate.entered.wait, 10)
            await eventually(
                lambda: sum(c.read for c in clients) >= 4 + 2, within=10, what="two frames read"
            )
            for _ in range(100):  # turns of the loop: every reader reads as far as it may
                await asyncio.sleep(0)
            read_while_blocked = sum(c.read for c in clients)
            Gate.release.set()
            await asyncio.gather(*streams)
            return read_while_blocked

    budget = PeakBudget(1024 * 1024)
    read_while_blocked = asyncio.run(scenario(budget))

    assert budget.peak <= 1024 * 1024
    assert budget.peak >= 2 * len(frame)  # the budget was used, not just respected
    # Four descriptors and the two frames held: a stream reserves a message's bytes
    # before it reads one, so no read waits in memory for room.
    assert read_while_blocked == 4 + 2
    assert all(sorted(c.acks) == list(range(2, 12)) for c in clients)
    assert budget.held == 0
