"""Health: the standard grpc.health.v1 service, and a client check for HEALTHCHECK."""

from __future__ import annotations

import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from .proto import extension_pb2

SERVICE_NAME = extension_pb2.DESCRIPTOR.services_by_name["MediaGraphExtension"].full_name
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class Health:
    """The server's health: SERVING once ready, NOT_SERVING while draining."""

    def __init__(self) -> None:
        self.servicer = health_aio.HealthServicer()

    def add_to(self, server: grpc.aio.Server) -> None:
        health_pb2_grpc.add_HealthServicer_to_server(self.servicer, server)

    async def set(self, status: health_pb2.HealthCheckResponse.ServingStatus) -> None:
        for service in ("", SERVICE_NAME):
            await self.servicer.set(service, status)


def check(
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
