"""A stream's reads counted against the byte budget before each message arrives, and the
words of the refusals and timeouts that end a stream at intake."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from lva_extension import inferences
from lva_extension.errors import DeadlineExceeded, ExtensionError
from lva_extension.stream.intake import Intake, held_size, watch_idle
from lva_extension.stream.limits import ByteBudget

from tests.support.streams import descriptor, sample
from tests.support.waiting import eventually

FRAME = bytes(1000)


class Client:
    """Messages the test hands over one at a time (None: the client half-closes)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[object] = asyncio.Queue()

    async def messages(self):
        while (item := await self.queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item


def run(scenario):
    return asyncio.run(asyncio.wait_for(scenario(), 30))


def test_the_next_message_is_reserved_before_it_arrives_then_held_as_it_is():
    async def scenario() -> None:
        budget, client = ByteBudget(10_000), Client()
        intake = Intake(client.messages(), budget, allowance=2000)
        assert intake.idle_for() == 0.0
        reading = asyncio.ensure_future(intake.next())
        await eventually(lambda: budget.held == 2000, within=5, what="the reservation")
        assert 0 < intake.idle_for() < 30  # waiting for the client (within this test)
        client.queue.put_nowait(sample(2, FRAME))
        read = await reading
        assert read is not None
        message, size = read
        assert (message.sequence_number, size) == (2, 64 + 1000)
        assert budget.held == size and intake.idle_for() == 0.0
        client.queue.put_nowait(None)
        assert await intake.next() is None
        assert budget.held == size  # nothing more held for a client that finished

    run(scenario)


def test_a_message_larger_than_its_reservation_ends_the_stream_and_is_given_back():
    async def scenario() -> ExtensionError:
        budget, client = ByteBudget(10_000), Client()
        intake = Intake(client.messages(), budget, allowance=500)
        client.queue.put_nowait(sample(7, FRAME))
        with pytest.raises(ExtensionError) as raised:
            await intake.next()
        assert budget.held == 0
        return raised.value

    error = run(scenario)
    assert (error.status, error.message) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "message 7 holds 1064 bytes, more than this stream's 500 (its frame format and 65536"
        " bytes for the rest)",
    )


def test_a_message_exactly_its_reservation_is_read():
    async def scenario() -> int:
        budget, client = ByteBudget(10_000), Client()
        client.queue.put_nowait(sample(7, FRAME))
        read = await Intake(client.messages(), budget, allowance=1064).next()
        assert read is not None
        return read[1]

    assert run(scenario) == 1064


def test_a_read_that_fails_gives_its_reservation_back():
    async def scenario() -> None:
        budget, client = ByteBudget(10_000), Client()
        intake = Intake(client.messages(), budget, allowance=500)
        client.queue.put_nowait(ConnectionResetError("gone"))
        with pytest.raises(ConnectionResetError):
            await intake.next()
        assert budget.held == 0 and intake.idle_for() == 0.0

    run(scenario)


def test_the_first_message_its_size_and_its_refusals():
    async def scenario() -> list[object]:
        found: list[object] = []
        client = Client()
        client.queue.put_nowait(descriptor())
        intake = Intake(client.messages(), ByteBudget(1 << 20), allowance=70_000)
        first = await intake.first(within=5)
        assert first is not None and first[1] == descriptor().ByteSize()
        for allowance, within, messages in [
            (10, 5, [descriptor(configuration="x" * 100)]),  # too big
            (70_000, 0.05, []),  # nothing comes
        ]:
            client = Client()
            for message in messages:
                client.queue.put_nowait(message)
            intake = Intake(client.messages(), ByteBudget(1 << 20), allowance)
            with pytest.raises(ExtensionError) as raised:
                await intake.first(within)
            found.append((raised.value.status, raised.value.message))
        client = Client()
        client.queue.put_nowait(None)
        found.append(await Intake(client.messages(), ByteBudget(100), 10).first(5))
        return found

    size = descriptor(configuration="x" * 100).ByteSize()
    assert run(scenario) == [
        (
            grpc.StatusCode.INVALID_ARGUMENT,
            f"the descriptor message holds {size} bytes; this server reads at most 10"
            " (an extension_configuration of up to 64 KiB)",
        ),
        (
            grpc.StatusCode.DEADLINE_EXCEEDED,
            "no media_stream_descriptor within 0.05s of the call's start (handshakeTimeoutSeconds)",
        ),
        None,
    ]


def test_room_now_says_whether_the_next_reservation_fits():
    budget = ByteBudget(1000)
    intake = Intake(Client().messages(), budget, allowance=400)
    budget.held = 600
    assert intake.room_now()
    budget.held = 601
    assert not intake.room_now()


def test_what_a_sample_holds_is_its_frame_its_inferences_and_its_fields():
    message = sample(3, FRAME)
    label = inferences.classification("cat")
    message.media_sample.inferences.append(label)
    assert held_size(message) == 64 + 1000 + label.ByteSize()
    assert held_size(sample(3)) == 64  # a frame by reference: nothing of it here
    assert held_size(descriptor()) == descriptor().ByteSize()


@pytest.mark.parametrize(
    ("reading", "writing", "message"),
    [
        (1.0, 0.0, "no message for 0.2s (idleTimeoutSeconds); reconnect to go on"),
        (0.0, 1.0, "the client read no reply for 0.2s (idleTimeoutSeconds)"),
    ],
)
def test_a_stream_idle_for_too_long_ends(reading, writing, message):
    with pytest.raises(DeadlineExceeded) as raised:
        run(lambda: watch_idle(0.2, lambda: reading, lambda: writing))
    assert raised.value.message == message


def test_a_busy_stream_is_not_idle():
    async def scenario() -> bool:
        watcher = asyncio.ensure_future(watch_idle(0.04, lambda: 0.04, lambda: 0.04))
        await asyncio.sleep(0.2)  # about twenty checks: not one may end the stream
        ended = watcher.done()
        watcher.cancel()
        return ended

    assert run(scenario) is False
