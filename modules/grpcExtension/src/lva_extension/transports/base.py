"""What a transport is: where a stream's sample bytes come from.

Every transport gives the conversation the same thing: a read-only buffer of
one sample's bytes, which the server reads until the sample is acknowledged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from ..proto import extension_pb2


class Transport(ABC):
    """Where a stream's sample bytes come from."""

    kind: str

    @abstractmethod
    def sample_bytes(self, sample: extension_pb2.MediaSample) -> bytes | memoryview:
        """The bytes of one sample's frame; valid until the sample is acknowledged."""

    def close(self) -> None:  # noqa: B027 - optional hook: embedded frames hold nothing
        """Release what the stream held; called once when the stream ends."""
