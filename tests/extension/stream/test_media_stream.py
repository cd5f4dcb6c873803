"""What one open stream holds: replies numbered in order, bytes held until acknowledged
and given back however the stream ends, batches of a stateful processor one at a time."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from lva_extension import inferences
from lva_extension.errors import ClientGone
from lva_extension.stream.limits import ByteBudget
from lva_extension.stream.media_stream import MediaStream, Responder
from lva_extension.stream.pipeline import BatchResult

from tests.support.streams import sample
from tests.support.waiting import eventually


def run(scenario):
    return asyncio.run(asyncio.wait_for(scenario(), 30))


class Runner:
    """Runs batches as a real runner does, one label per frame; records overlaps."""

    def __init__(self, thread_safe: bool, failed: int = 0) -> None:
        self.thread_safe = thread_safe
        self.failed = failed
        self.running = self.most = 0
        self.closed = False

    async def process(self, batch):
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(0.01)  # a batch takes a while: others may start meanwhile
        self.running -= 1
        return BatchResult([[inferences.classification(str(s))] for s, _ in batch], self.failed, 0)

    async def close(self) -> None:
        self.closed = True


def test_replies_are_numbered_one_two_three_and_an_ack_carries_its_inferences():
    written = []

    async def write(message):
        written.append(message)

    async def scenario() -> None:
        responder = Responder(write)
        label = inferences.classification("cat")
        await responder.acknowledge(5, 15000, [label])
        await responder.acknowledge(6, 18000, [])

    run(scenario)
    assert [m.sequence_number for m in written] == [1, 2]
    assert [m.ack_sequence_number for m in written] == [5, 6]
    assert written[0].media_sample.timestamp == 15000
    assert [i.classification.tag.value for i in written[0].media_sample.inferences] == ["cat"]


def test_a_write_that_fails_means_the_client_went_away():
    async def broken(message):
        raise ConnectionResetError("peer gone")

    with pytest.raises(ClientGone) as raised:
        run(lambda: Responder(broken).send(sample(1)))
    assert (raised.value.status, raised.value.message) == (
        grpc.StatusCode.CANCELLED,
        "the client went away (ConnectionResetError)",
    )


def test_a_cancelled_write_stays_a_cancellation():
    async def scenario() -> None:
        async def stuck(message):
            await asyncio.Event().wait()

        responder = Responder(stuck)
        sending = asyncio.ensure_future(responder.send(sample(1)))
        await eventually(lambda: responder.blocked_for() > 0, within=5, what="a blocked write")
        assert responder.blocked_for() < 30  # a duration (within this test), not a clock reading
        sending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sending
        assert responder.blocked_for() == 0.0

    run(scenario)


def test_bytes_are_held_until_acknowledged_and_given_back_when_the_stream_ends():
    async def scenario() -> None:
        budget = ByteBudget(10_000)
        await budget.acquire(3000)  # what the intake counted for three samples
        runner = Runner(thread_safe=True)
        stream = MediaStream(budget, runner, allowance=1000, in_flight=4)
        items = [stream.hold(s, sample(s).media_sample, 1000) for s in (2, 3, 4)]
        assert stream.held_bytes == 3000 and items[0].timestamp == 6000
        stream.unhold(items[0])  # acknowledged
        assert (stream.held_bytes, budget.held) == (2000, 2000)
        await stream.close()  # the rest were never acknowledged
        assert (stream.held_bytes, budget.held, runner.closed) == (0, 0, True)

    run(scenario)


@pytest.mark.parametrize(("thread_safe", "most"), [(True, 3), (False, 1)])
def test_batches_of_a_stateful_processor_run_one_at_a_time(thread_safe, most):
    async def scenario() -> tuple[int, list[list[str]], int]:
        runner = Runner(thread_safe, failed=1)
        stream = MediaStream(ByteBudget(10_000), runner, allowance=1000, in_flight=3)
        batches = [[stream.hold(s, sample(s).media_sample, 0)] for s in (2, 3, 4)]
        results = await asyncio.gather(*(stream.process(batch) for batch in batches))
        assert all(item.sample is None for batch in batches for item in batch)  # freed
        labels = [[i.classification.tag.value for i in r[0]] for r in results]
        return runner.most, labels, stream.stats.processor_errors

    assert run(scenario) == (most, [["2"], ["3"], ["4"]], 3)
