"""Frames carried in the messages themselves."""

from __future__ import annotations

from ..errors import InvalidArgument
from ..proto import extension_pb2
from .base import Transport


class EmbeddedTransport(Transport):
    """Frames carried in the messages themselves (content_bytes)."""

    kind = "embedded"

    def sample_bytes(self, sample: extension_pb2.MediaSample) -> bytes | memoryview:
        if sample.WhichOneof("content") != "content_bytes":
            raise InvalidArgument(
                "sample: got a content_reference, but the stream's descriptor declared no"
                " shared memory buffer (expected content_bytes)"
            )
        return sample.content_bytes.bytes
