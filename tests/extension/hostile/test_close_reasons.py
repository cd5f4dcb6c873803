"""Attack: hold a stream open without a word, or vanish; and every stream's log line.

A descriptor that does not come within handshakeTimeoutSeconds, or a client
that sends nothing for idleTimeoutSeconds, ends the stream with
DEADLINE_EXCEEDED. Each stream's close (or refusal) line says why it ended:
client finished, connection dropped, refused, timed out, never "client
finished" for a connection that dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time

import grpc
import pytest
from lva_extension.proto import extension_pb2_grpc

from tests.support.hostility import target
from tests.support.raw_http2 import RawGrpcStream
from tests.support.streams import descriptor, raw_call, sample

FRAME = bytes(64 * 48 * 3)


@pytest.fixture(scope="module")
def victim():
    with target("--handshake-timeout-seconds", "1", "--idle-timeout-seconds", "1") as running:
        yield running


def lines_after(victim, mark: int, pattern: str, within: float = 10) -> list[str]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = [line for line in victim.running.log[mark:] if re.search(pattern, line)]
        if found:
            return found
        time.sleep(0.1)
    return []


def test_a_finished_stream_says_client_finished(victim):
    mark = len(victim.running.log)
    outcome = raw_call(victim.address, [descriptor(), sample(2, FRAME)])
    assert outcome.code == grpc.StatusCode.OK
    assert lines_after(victim, mark, r"closed: .* status=OK reason=client finished")


def test_a_cancelled_call_says_connection_dropped(victim):
    mark = len(victim.running.log)

    async def cancel_midway() -> None:
        async with grpc.aio.insecure_channel(victim.address) as channel:
            call = extension_pb2_grpc.MediaGraphExtensionStub(channel).ProcessMediaStream()
            await call.write(descriptor())
            await call.read()
            await call.write(sample(2, FRAME))
            await call.read()
            call.cancel()

    asyncio.run(cancel_midway())
    assert lines_after(victim, mark, r"closed: .* status=CANCELLED reason=connection dropped")
    victim.assert_unharmed()


def test_a_connection_cut_mid_stream_says_connection_dropped(victim):
    mark = len(victim.running.log)
    connection = RawGrpcStream.connect(victim.address)
    peer = f"127.0.0.1:{connection.local_port} "
    stream = connection.open()
    connection.send_message(stream, descriptor().SerializeToString())
    assert lines_after(victim, mark, peer + "opened: ")
    connection.close()
    found = lines_after(victim, mark, peer + "closed: ")
    assert found and "reason=connection dropped" in found[0], found
    victim.assert_unharmed()


def test_no_descriptor_in_time_is_a_timed_out_refusal(victim):
    mark = len(victim.running.log)
    connection = RawGrpcStream.connect(victim.address)
    connection.open()  # headers, and then nothing
    found = lines_after(victim, mark, r"refused: status=DEADLINE_EXCEEDED reason=timed out")
    connection.close()
    assert found
    assert "handshakeTimeoutSeconds" in found[0]
    victim.assert_unharmed()


def test_an_idle_stream_times_out(victim):
    mark = len(victim.running.log)

    def messages():
        yield descriptor()
        yield sample(2, FRAME)
        time.sleep(4)  # then nothing while the server waits

    outcome = raw_call(victim.address, messages(), timeout=20)
    assert outcome.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "idleTimeoutSeconds" in outcome.details
    assert lines_after(
        victim, mark, r"closed: frames=1 .* status=DEADLINE_EXCEEDED reason=timed out"
    )
    victim.assert_unharmed()


def test_a_refused_stream_has_its_line(victim):
    mark = len(victim.running.log)
    outcome = raw_call(victim.address, [descriptor(width=0)])
    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT
    assert lines_after(victim, mark, r"refused: status=INVALID_ARGUMENT reason=dimensions")


def test_a_client_that_never_reads_its_replies_times_out(victim):
    mark = len(victim.running.log)

    async def never_read() -> None:
        # Small windows on our side and big replies: the server's writes soon wait.
        options = [("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 65536)]
        async with grpc.aio.insecure_channel(victim.address, options=options) as channel:
            call = extension_pb2_grpc.MediaGraphExtensionStub(channel).ProcessMediaStream()
            await call.write(descriptor(configuration="tests.support.hostile_plugins:BigReplies"))
            # Until the server stops reading (it ended the stream, but cannot tell
            # us: its status waits behind the replies we do not read).
            with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError, TimeoutError):
                for sequence in range(2, 100_000):
                    await asyncio.wait_for(call.write(sample(sequence, FRAME)), 3)
            call.cancel()

    asyncio.run(never_read())
    found = lines_after(victim, mark, r"closed: .* status=DEADLINE_EXCEEDED reason=timed out")
    assert found and "read no reply" in found[0]
    victim.assert_unharmed()
