"""The server's own error types and the gRPC status each one ends a call with.

Expected errors (a client sent something we cannot serve, a plugin is
misconfigured) are ExtensionError subclasses: the call ends with their status
and message. Anything else is a bug: logged with its traceback, and the call
ends with INTERNAL.
"""

from __future__ import annotations

import grpc


class ExtensionError(Exception):
    """An expected error that ends one call with ``status`` and ``message``."""

    status: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Internal(ExtensionError):
    """A failure on the server's side (a plugin that crashed): logged with its traceback."""

    status = grpc.StatusCode.INTERNAL


class InvalidArgument(ExtensionError):
    """The client sent something malformed, inconsistent or unsupported."""

    status = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(ExtensionError):
    """Something the client named (a shared memory file) does not exist."""

    status = grpc.StatusCode.NOT_FOUND


class PermissionDenied(ExtensionError):
    """The server may not use what the client named."""

    status = grpc.StatusCode.PERMISSION_DENIED


class FailedPrecondition(ExtensionError):
    """What the client asked for exists but the server cannot serve it now (a broken model)."""

    status = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(ExtensionError):
    """A limit of the server is reached; the client may retry later."""

    status = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(ExtensionError):
    """The server is shutting down and takes no new streams."""

    status = grpc.StatusCode.UNAVAILABLE


class ClientGone(ExtensionError):
    """The client went away: there is nobody left to tell anything."""

    status = grpc.StatusCode.CANCELLED


class DeadlineExceeded(ExtensionError):
    """The client took too long: no descriptor, or no message for too long."""

    status = grpc.StatusCode.DEADLINE_EXCEEDED


class ConfigurationError(Exception):
    """Settings that cannot work; reported at start-up as one line."""


QUOTE_LIMIT = 200


def shorten(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` cut to about ``limit`` characters: client input quoted in a status or a
    log line must not make either huge (a status over the HTTP/2 header limit never
    reaches the client)."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)``, shortened."""
    return shorten(repr(value), limit)
