"""The IoT Hub front end: the direct-method REST call, over HTTPS on loopback.

``POST /twins/{device}/modules/{module}/methods?api-version=...`` with a SAS
token, as azure-iot-hub's ``invoke_device_module_method`` sends it. Answers
as IoT Hub does: 401 for a bad token (checked first), 404 for an unknown
device or module, 504 when the module does not answer within
``responseTimeoutInSeconds``, otherwise 200 with ``{"status", "payload"}``.

``POST /devices/{device}/modules/{module}/inputs/{input}/messages`` (the
simulator's own, with the same SAS tokens) hands a message to a module input,
as edgeHub's routes do on a device: the body is the message (JSON, or text),
``iothub-app-*`` headers its application properties. The answer says how many
IoT Hub message sources of running graphs took it: ``{"delivered": n}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..times import now_iso
from . import sas
from .connection_string import HubConnectionString

log = logging.getLogger(__name__)

MethodHandler = Callable[[str, Any], Awaitable[tuple[int, Any]]]
InputHandler = Callable[[str, dict[str, Any]], Awaitable[int]]  # (input name, message) -> taken by
APP_PROPERTY = "iothub-app-"
MAX_BODY = 128 * 1024  # IoT Hub's limit for a direct-method payload


def hub_error(status: int, code: int, message: str) -> web.Response:
    """An error in IoT Hub's JSON form (errorCode is status * 1000 + a detail)."""
    body = {
        "errorCode": code,
        "trackingId": uuid.uuid4().hex,
        "message": message,
        "timestampUtc": now_iso(),
    }
    return web.json_response(body, status=status)


class HubServer:
    """Answers direct-method calls for the modules of the simulated devices."""

    def __init__(
        self,
        identity: HubConnectionString,
        modules: dict[tuple[str, str], MethodHandler],
        ssl_context: ssl.SSLContext,
        inputs: dict[tuple[str, str], InputHandler] | None = None,
    ) -> None:
        self.identity = identity
        self.modules = modules
        self.inputs = inputs or {}
        self.ssl_context = ssl_context
        self.port = 0
        self._runner: web.AppRunner | None = None

    def application(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post("/twins/{device}/modules/{module}/methods", self._invoke)
        app.router.add_post("/twins/{device}/methods", self._device_method)
        app.router.add_post(
            "/devices/{device}/modules/{module}/inputs/{input}/messages", self._input_message
        )
        return app

    async def start(self, host: str, port: int) -> int:
        self._runner = web.AppRunner(self.application(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=self.ssl_context)
        await site.start()
        self.port = int(self._runner.addresses[0][1])  # the bound port when port is 0
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _authorize(self, request: web.Request, resource: str) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        try:
            sas.verify(header, resource, self.identity.key_name, self.identity.key_bytes)
        except sas.SasError as error:
            log.info("401 for %s: %s", request.path, error)
            return hub_error(
                401, 401002, f"ErrorCode:IotHubUnauthorizedAccess;Unauthorized: {error}"
            )
        return None

    async def _device_method(self, request: web.Request) -> web.Response:
        device = request.match_info["device"]
        denied = self._authorize(request, f"{self.identity.host_name}/twins/{device}/methods")
        if denied:
            return denied
        return hub_error(
            404, 404103, f"Device {device!r} handles no direct methods; call its module's methods."
        )

    async def _invoke(self, request: web.Request) -> web.Response:
        device, module = request.match_info["device"], request.match_info["module"]
        resource = f"{self.identity.host_name}/twins/{device}/modules/{module}/methods"
        denied = self._authorize(request, resource)
        if denied:
            return denied
        if not any(d == device for d, _ in self.modules):
            return hub_error(404, 404001, f"Device {device!r} not found.")
        handler = self.modules.get((device, module))
        if handler is None:
            return hub_error(404, 404010, f"Module {module!r} not found on device {device!r}.")
        body, problem = _parse_body(await request.read())
        if problem is None:
            problem = _check_request(body)
        if problem:
            return hub_error(400, 400004, problem)
        method, payload = body["methodName"], body.get("payload")
        timeout = body.get("responseTimeoutInSeconds") or 30
        try:
            status, result = await asyncio.wait_for(handler(method, payload), timeout)
        except TimeoutError:
            return hub_error(
                504,
                504101,
                f"Timed out waiting for the response from module {module!r} ({timeout} s).",
            )
        log.info("%s/%s %s -> %d", device, module, method, status)
        return web.json_response({"status": status, "payload": result})

    async def _input_message(self, request: web.Request) -> web.Response:
        device, module = request.match_info["device"], request.match_info["module"]
        name = request.match_info["input"]
        denied = self._authorize(
            request, f"{self.identity.host_name}/devices/{device}/modules/{module}"
        )
        if denied:
            return denied
        if not any(d == device for d, _ in self.modules):
            return hub_error(404, 404001, f"Device {device!r} not found.")
        handler = self.inputs.get((device, module))
        if handler is None:
            return hub_error(404, 404010, f"Module {module!r} not found on device {device!r}.")
        message = _message(await request.read(), request.headers)
        if isinstance(message, str):
            return hub_error(400, 400004, message)
        delivered = await handler(name, message)
        log.info(
            "%s/%s input %s: a message, taken by %d source(s)", device, module, name, delivered
        )
        return web.json_response({"delivered": delivered})


def _message(data: bytes, headers: Any) -> dict[str, Any] | str:
    """The message as a gate's event: its JSON body (or text) and application properties."""
    try:
        body: Any = json.loads(data) if data.strip() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        try:
            body = data.decode()
        except UnicodeDecodeError:
            return "The message body must be JSON or UTF-8 text."
    properties = {
        key[len(APP_PROPERTY) :]: value
        for key, value in headers.items()
        if key.lower().startswith(APP_PROPERTY)
    }
    return {"body": body, "applicationProperties": properties}


MAX_DEPTH = 64  # far deeper than any direct method's payload nests


def _parse_body(raw: bytes) -> tuple[Any, str | None]:
    """The request's JSON, or why it is not acceptable (a 400, never a 500)."""
    try:
        body = json.loads(raw)
    except RecursionError:
        return None, "The request body nests too deeply."
    except ValueError:  # not JSON, not UTF-8, or an integer of thousands of digits
        return None, "The request body is not valid JSON."
    if _depth(body) > MAX_DEPTH:
        return None, f"The request body nests deeper than {MAX_DEPTH} levels."
    return body, None


def _depth(value: Any) -> int:
    """How deeply ``value`` nests, counted without recursion (it may nest deeply)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _check_request(body: Any) -> str | None:
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("methodName"), str)
        or not body["methodName"]
    ):
        return "The request must be a JSON object with a methodName."
    for key, low, high in (
        ("responseTimeoutInSeconds", 5, 300),
        ("connectTimeoutInSeconds", 0, 300),
    ):
        value = body.get(key)
        if value is not None and (not isinstance(value, int) or not low <= value <= high):
            return f"{key} must be an integer from {low} to {high}, got {value!r}."
    return None
