"""Helpers to talk to a server: the project's client, and raw message sequences."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import grpc
import numpy as np
from lva_extension.client import ClientOptions, ExtensionClient, FrameResult, StreamSummary
from lva_extension.proto import extension_pb2, extension_pb2_grpc, media_pb2

Message = extension_pb2.MediaStreamMessage
Format = media_pb2.VideoFrameSampleFormat


def run_client(
    options: ClientOptions, frames: Iterable[np.ndarray | bytes]
) -> tuple[list[FrameResult], StreamSummary]:
    client = ExtensionClient(options)

    async def collect() -> list[FrameResult]:
        return [result async for result in client.stream(frames)]

    results = asyncio.run(collect())
    return results, client.summary


def tags(results: list[FrameResult]) -> list[str]:
    return [r.inferences[0].classification.tag.value for r in results]


def descriptor(
    width: int = 64,
    height: int = 48,
    encoding: int = Format.RAW,
    pixel_format: int = Format.RGB24,
    stride: int = 0,
    shm: tuple[str, int] | None = None,
    configuration: str = "",
    sequence: int = 1,
) -> Message:
    message = Message(sequence_number=sequence)
    d = message.media_stream_descriptor
    d.graph_identifier.graph_instance_name = "test"
    d.extension_configuration = configuration
    video = d.media_descriptor.video_frame_sample_format
    d.media_descriptor.timescale = 90000
    video.encoding = encoding  # type: ignore[assignment]
    video.pixel_format = pixel_format  # type: ignore[assignment]
    video.dimensions.width, video.dimensions.height = width, height
    video.stride_bytes = stride
    if shm is not None:
        props = d.shared_memory_buffer_transfer_properties
        props.handle_name, props.length_bytes = shm
    return message


def sample(sequence: int, data: bytes | None = None, timestamp: int | None = None) -> Message:
    message = Message(sequence_number=sequence)
    message.media_sample.timestamp = sequence * 3000 if timestamp is None else timestamp
    if data is not None:
        message.media_sample.content_bytes.bytes = data
    return message


def referenced(offset: int, length: int) -> extension_pb2.MediaSample:
    """A bare sample that points into the shared memory buffer (what a transport reads)."""
    reference = media_pb2.ContentReference(address_offset=offset, length_bytes=length)
    return extension_pb2.MediaSample(content_reference=reference)


def reference(sequence: int, offset: int, length: int) -> Message:
    message = Message(sequence_number=sequence)
    message.media_sample.timestamp = sequence * 3000
    message.media_sample.content_reference.address_offset = offset
    message.media_sample.content_reference.length_bytes = length
    return message


@dataclass
class CallOutcome:
    responses: list[Message]
    code: grpc.StatusCode
    details: str


def raw_call(
    address: str,
    messages: Iterable[Message] | Iterator[Message],
    timeout: float = 30,
    metadata: tuple[tuple[str, str], ...] | None = None,
) -> CallOutcome:
    """Send exactly these messages (then half-close) and collect everything back."""
    with grpc.insecure_channel(
        address, options=[("grpc.max_send_message_length", 256 * 1024 * 1024)]
    ) as channel:
        stub = extension_pb2_grpc.MediaGraphExtensionStub(channel)
        responses: list[Message] = []
        call = stub.ProcessMediaStream(iter(messages), timeout=timeout, metadata=metadata)
        try:
            for response in call:
                responses.append(response)
        except grpc.RpcError as error:
            return CallOutcome(responses, error.code(), error.details() or "")
        return CallOutcome(responses, grpc.StatusCode.OK, "")
