"""The conversation's logic in-process, against a fake client: no sockets.

The same behaviours are tested over real gRPC in test_conversation.py; these
pin the rules themselves (handshake, sequence numbers, one ack per sample,
backpressure, what ends a stream) where a failure points at one class.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from lva_extension.errors import ClientGone, InvalidArgument, ResourceExhausted
from lva_extension.stream.conversation import Conversation

from tests.support.fakes import FakeClient, converse, messages, resources
from tests.support.processors import Gate
from tests.support.streams import descriptor, sample

DARK = FRAME = bytes(64 * 48 * 3)
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
        for _ in range(50):  # give the reader every chance to read ahead
            await asyncio.sleep(0.001)
        read_while_blocked = client.read
        Gate.release.set()
        await conversation
        return read_while_blocked

    read_while_blocked = asyncio.run(scenario())

    # The descriptor, three samples in flight, and the one the reader waits to admit.
    assert read_while_blocked == 1 + 3 + 1
    assert sorted(client.acks) == list(range(2, 12))


def test_streams_beyond_max_streams_are_refused_before_their_descriptor_is_served():
    async def scenario() -> None:
        with ThreadPoolExecutor(1) as executor:
            shared = resources(executor, max_streams=1)
            held = threading.Event()
            first = FakeClient(messages(descriptor()))

            async def slow_write(message):
                held.set()
                await asyncio.sleep(0.2)
                first.written.append(message)

            one = asyncio.ensure_future(
                Conversation(shared, "one").handle(first.messages(), slow_write)
            )
            await asyncio.to_thread(held.wait, 10)
            second = FakeClient(messages(descriptor()))
            with pytest.raises(ResourceExhausted, match="at most 1 streams"):
                await Conversation(shared, "two").handle(second.messages(), second.write)
            await one
            assert second.written == []

    asyncio.run(scenario())
