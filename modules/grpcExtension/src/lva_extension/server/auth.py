"""Basic credentials on every call, as LVA sends them (``x-ms-authentication``).

With credentials configured, a call without the matching header ends with
UNAUTHENTICATED before its handler runs, so no frame is ever touched. The
secret is compared in constant time and never logged. The health service is
exempt, so that container health checks need no secret.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from ..contract import AUTH_HEADER
from ..errors import ConfigurationError
from ..settings import Settings

log = logging.getLogger(__name__)

EXEMPT_PREFIXES = ("/grpc.health.v1.Health/",)


def expected_credentials(settings: Settings) -> bytes | None:
    """``username:password`` from the settings (password file read once), or None."""
    password = settings.auth_password
    if settings.auth_password_file:
        if password:
            raise ConfigurationError("authPassword and authPasswordFile: set one, not both")
        try:
            with open(settings.auth_password_file, encoding="utf-8") as file:
                password = file.read().rstrip("\r\n")
        except OSError as error:
            raise ConfigurationError(
                f"authPasswordFile: cannot read {settings.auth_password_file}: {error.strerror}"
            ) from None
    if not settings.auth_username and not password:
        return None
    if not settings.auth_username or not password:
        raise ConfigurationError(
            "authUsername and authPassword (or authPasswordFile): set both, or neither"
        )
    if ":" in settings.auth_username:
        raise ConfigurationError("authUsername: must not contain ':' (Basic credentials)")
    return f"{settings.auth_username}:{password}".encode()


def refusal_reason(header: str | None, expected: bytes) -> str | None:
    """Why the header is refused, or None when it carries the expected credentials."""
    if header is None:
        return f"missing {AUTH_HEADER} credentials"
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return f"{AUTH_HEADER}: expected Basic credentials"
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return f"{AUTH_HEADER}: malformed Basic credentials"
    if not hmac.compare_digest(given, expected):
        return "wrong username or password"
    return None


def _refusal(reason: str) -> grpc.RpcMethodHandler[Any, Any]:
    async def refuse(requests: Any, context: grpc.aio.ServicerContext) -> None:
        # Take the client's first message (unparsed, unused) before answering: a
        # status sent while that message is still on its way more often reaches a
        # grpc.aio client as INTERNAL "Internal error from Core" instead of
        # UNAUTHENTICATED. It narrows that client's race, it cannot close it: a
        # grpc.aio client whose write fails after the status arrived overwrites
        # the status (grpc/grpc#36066; measured here about 6 calls in 40). Sync
        # clients and other languages always see UNAUTHENTICATED.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(anext(aiter(requests)), timeout=0.5)
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, reason)

    return grpc.stream_stream_rpc_method_handler(refuse)


class BasicAuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, expected: bytes) -> None:
        self._expected = expected

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method = handler_call_details.method
        if method.startswith(EXEMPT_PREFIXES):
            return await continuation(handler_call_details)
        metadata = dict(handler_call_details.invocation_metadata or ())
        header = metadata.get(AUTH_HEADER)
        reason = refusal_reason(header if isinstance(header, str) else None, self._expected)
        if reason is None:
            return await continuation(handler_call_details)
        log.warning("refused a call to %s: %s", method, reason)
        return _refusal(reason)


def interceptors(settings: Settings) -> list[grpc.aio.ServerInterceptor]:
    expected = expected_credentials(settings)
    if expected is None:
        log.warning("no credentials configured (authUsername/authPassword): the endpoint is open")
        return []
    log.info(
        "calls must carry %s Basic credentials for user %s", AUTH_HEADER, settings.auth_username
    )
    return [BasicAuthInterceptor(expected)]
