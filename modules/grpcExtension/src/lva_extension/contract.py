"""What both sides of the conversation share: the server and the LVA-side client.

Neither side imports the other; both import this (and ``proto/``).
"""

from __future__ import annotations

from pathlib import Path

from .proto import extension_pb2

Message = extension_pb2.MediaStreamMessage

SHM_DIR = Path("/dev/shm")
"""Where shared-memory handles live: a handle name is a plain file name in here."""

AUTH_HEADER = "x-ms-authentication"
"""The request metadata key that carries LVA's Basic credentials."""

EXTENSION_IDENTIFIER = "lva-extension"
"""The server's descriptor says "inferences only" with this identifier."""

SERVICE_NAME = extension_pb2.DESCRIPTOR.services_by_name["MediaGraphExtension"].full_name
"""The gRPC service's full name, as in the HTTP/2 path and the health service."""
