"""Transports: where a sample's bytes come from (embedded in the message, or shared memory).

One implementation per module, and ``auto`` picks the one a descriptor asks for.
"""

from .auto import open_transport, transfer_kind
from .base import Transport
from .embedded import EmbeddedTransport
from .shared_memory import SharedMemoryLimits, SharedMemoryTransport

__all__ = [
    "EmbeddedTransport",
    "SharedMemoryLimits",
    "SharedMemoryTransport",
    "Transport",
    "open_transport",
    "transfer_kind",
]
