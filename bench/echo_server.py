"""The reference for the benchmark: an extension that acknowledges every sample
without reading it. Its speed is the floor cost of a Python gRPC message here.

    python bench/echo_server.py tcp://127.0.0.1:0
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator

import grpc
from lva_extension.proto import extension_pb2, extension_pb2_grpc

Message = extension_pb2.MediaStreamMessage


class Echo(extension_pb2_grpc.MediaGraphExtensionServicer):
    async def ProcessMediaStream(
        self, request_iterator: AsyncIterator[Message], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Message]:
        sequence = 0
        async for request in request_iterator:
            sequence += 1
            if request.HasField("media_stream_descriptor"):
                reply = Message(
                    sequence_number=sequence,
                    ack_sequence_number=request.sequence_number,
                    media_stream_descriptor=extension_pb2.MediaStreamDescriptor(
                        extension_identifier="echo"
                    ),
                )
            else:
                reply = Message(
                    sequence_number=sequence, ack_sequence_number=request.sequence_number
                )
                reply.media_sample.timestamp = request.media_sample.timestamp
            yield reply


async def main(binding: str) -> None:
    limit = 256 * 1024 * 1024
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
        ]
    )
    extension_pb2_grpc.add_MediaGraphExtensionServicer_to_server(Echo(), server)
    port = server.add_insecure_port(binding.removeprefix("tcp://"))
    await server.start()
    print(f"serving the LVA gRPC extension on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop(0)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:0"))
