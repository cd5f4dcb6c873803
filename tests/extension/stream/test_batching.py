"""batchSize frames go to the processor together; results stay with their frame."""

from __future__ import annotations

import queue
import threading
import time

import grpc

from tests.support.processors import BatchRecorder
from tests.support.streams import descriptor, raw_call, sample
from tests.support.waiting import wait_for

FRAME = bytes(64 * 48 * 3)
CONFIG = "tests.support.processors:BatchRecorder"


def check_each_ack_has_its_own_result(responses) -> None:
    acks = responses[1:]
    assert sorted(m.ack_sequence_number for m in acks) == list(range(2, 12))
    for ack in acks:
        (inference,) = ack.media_sample.inferences
        assert inference.classification.tag.value == str(ack.media_sample.timestamp)
        assert ack.media_sample.timestamp == ack.ack_sequence_number * 3000


def test_partial_batch_is_processed_at_stream_end(start_server):
    server = start_server(batch_size=4, batch_timeout_ms=60_000)
    BatchRecorder.batches.clear()
    messages = [descriptor(configuration=CONFIG), *(sample(s, FRAME) for s in range(2, 12))]

    outcome = raw_call(server.address, messages)

    assert outcome.code == grpc.StatusCode.OK
    check_each_ack_has_its_own_result(outcome.responses)
    assert [len(b) for b in BatchRecorder.batches] == [4, 4, 2]
    sizes = [
        m.media_sample.inferences[0].classification.attributes[0].value
        for m in outcome.responses[1:]
    ]
    assert sorted(sizes) == ["2", "2"] + ["4"] * 8


def test_partial_batch_is_processed_after_the_timeout(start_server):
    server = start_server(batch_size=4, batch_timeout_ms=200)
    BatchRecorder.batches.clear()
    received: queue.Queue = queue.Queue()
    release = threading.Event()

    def messages():
        yield descriptor(configuration=CONFIG)
        for s in range(2, 12):
            yield sample(s, FRAME)
        # Keep the stream open, as a live camera would, until all acks are in.
        release.wait(timeout=10)

    def read() -> None:
        outcome = raw_call(server.address, messages())
        received.put(outcome)

    sent_at = time.monotonic()
    reader = threading.Thread(target=read)
    reader.start()
    wait_for(lambda: len(BatchRecorder.batches) >= 3, timeout=10, what="three batches")
    last_batch_at = time.monotonic()
    batches_while_open = len(BatchRecorder.batches)
    release.set()
    reader.join(timeout=10)
    outcome = received.get_nowait()

    assert outcome.code == grpc.StatusCode.OK
    assert [len(b) for b in BatchRecorder.batches] == [4, 4, 2]
    # The third batch came while the stream was still open, after the timeout.
    assert batches_while_open == 3
    assert last_batch_at - sent_at >= 0.2
    check_each_ack_has_its_own_result(outcome.responses)
