"""The transport a stream's descriptor asks for."""

from __future__ import annotations

from ..proto import extension_pb2
from .base import Transport
from .embedded import EmbeddedTransport
from .shared_memory import SharedMemoryLimits, SharedMemoryTransport


def transfer_kind(descriptor: extension_pb2.MediaStreamDescriptor) -> str:
    """How a stream's descriptor says its frames travel: embedded or sharedMemory."""
    if descriptor.WhichOneof("data_transfer_properties") is None:
        return EmbeddedTransport.kind
    return SharedMemoryTransport.kind


def open_transport(
    descriptor: extension_pb2.MediaStreamDescriptor,
    limits: SharedMemoryLimits = SharedMemoryLimits(),  # noqa: B008 - frozen, shared
) -> Transport:
    """The transport a stream's descriptor asks for."""
    if descriptor.WhichOneof("data_transfer_properties") is None:
        return EmbeddedTransport()
    shm = descriptor.shared_memory_buffer_transfer_properties
    return SharedMemoryTransport(shm.handle_name, shm.length_bytes, limits=limits)
