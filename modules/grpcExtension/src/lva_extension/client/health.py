"""The health check command's client: ask a server's grpc.health.v1 service."""

from __future__ import annotations

import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def probe(
    address: str,
    timeout: float = 3.0,
    credentials: grpc.ChannelCredentials | None = None,
    server_name: str | None = None,
    wait: float = 0.0,
) -> str:
    """The server's overall status name (SERVING, NOT_SERVING, ...), or the error.

    With ``wait``, keep asking for that many seconds until it answers SERVING.
    """
    options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
    deadline = time.monotonic() + wait
    while True:
        status = _ask(address, timeout, credentials, options)
        if status == "SERVING" or time.monotonic() >= deadline:
            return status
        time.sleep(0.2)


def _ask(
    address: str,
    timeout: float,
    credentials: grpc.ChannelCredentials | None,
    options: list[tuple[str, str]],
) -> str:
    channel = (
        grpc.secure_channel(address, credentials, options=options)
        if credentials
        else grpc.insecure_channel(address)
    )
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
        except grpc.RpcError as error:
            return f"{error.code().name}: {error.details()}"
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))
