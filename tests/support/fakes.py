"""Fakes for testing the stream logic in-process: no sockets, no gRPC server.

A conversation reads requests from any async iterable and writes through any
coroutine function, so a list of messages and a collecting ``write`` stand in
for the client (as grpclib's testing ChannelFor or httpx's MockTransport do).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from lva_extension.contract import Message
from lva_extension.settings import Settings
from lva_extension.stream.conversation import Conversation, ServerResources
from lva_extension.stream.limits import ByteBudget, StreamSlots
from lva_extension.telemetry import Telemetry

from tests.support.servers import TEST_PROCESSORS


def resources(executor: ThreadPoolExecutor, **overrides: Any) -> ServerResources:
    settings = replace(Settings(), **{**TEST_PROCESSORS, **overrides})
    return ServerResources(
        settings,
        executor,
        Telemetry(),
        StreamSlots(settings.max_streams),
        ByteBudget(settings.max_held_mib * 1024 * 1024),
    )


@dataclass
class FakeClient:
    """Requests from a list (counting how many were read); answers collected."""

    requests: list[Message]
    read: int = 0
    written: list[Message] = field(default_factory=list)
    fail_writes: bool = False

    async def messages(self) -> AsyncIterator[Message]:
        for message in self.requests:
            self.read += 1
            yield message
            await asyncio.sleep(0)  # let the conversation's tasks run, as a socket would

    async def write(self, message: Message) -> None:
        if self.fail_writes:
            raise RuntimeError("the transport is gone")
        self.written.append(message)

    @property
    def acks(self) -> list[int]:
        return [m.ack_sequence_number for m in self.written[1:]]


async def converse(client: FakeClient, **overrides: Any) -> None:
    """One Conversation over the fake client, with these settings overrides."""
    with ThreadPoolExecutor(2) as executor:
        conversation = Conversation(resources(executor, **overrides), "fake-peer")
        await conversation.handle(client.messages(), client.write)


def messages(*items: Message | Iterable[Message]) -> list[Message]:
    out: list[Message] = []
    for item in items:
        out.extend([item] if isinstance(item, Message) else item)
    return out
