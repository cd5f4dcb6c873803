"""The client side of the simulator's message endpoint: ``lva-simulator send-message``.

It signs a SAS token with the hub's connection string (as azure-iot-hub
does) and POSTs the message to
``/devices/{device}/modules/{module}/inputs/{input}/messages``, trusting the
simulator's certificate.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import sas
from .connection_string import HubConnectionString

TIMEOUT = 30.0


class SendError(Exception):
    pass


def send_message(
    identity: HubConnectionString,
    certificate: Path | None,
    device: str,
    module: str,
    input_name: str,
    body: bytes,
    properties: dict[str, str],
) -> int:
    """Send one message to a module input; how many IoT Hub message sources took it."""
    path = f"/devices/{quote(device)}/modules/{quote(module)}/inputs/{quote(input_name)}/messages"
    token = sas.generate(identity.host_name, identity.key_name, identity.key_bytes)
    headers = {"Authorization": token, "Content-Type": "application/json"}
    headers.update({f"iothub-app-{name}": value for name, value in properties.items()})
    request = urllib.request.Request(
        f"https://{identity.host_name}{path}?api-version=2020-09-30",
        data=body,
        headers=headers,
        method="POST",
    )
    context = ssl.create_default_context(cafile=str(certificate) if certificate else None)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT, context=context) as reply:
            answer: Any = json.loads(reply.read())
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")
        with contextlib.suppress(json.JSONDecodeError, AttributeError):
            detail = json.loads(detail).get("message", detail)
        raise SendError(f"{error.code} {error.reason}: {detail}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise SendError(f"cannot reach the hub at {identity.host_name}: {reason}") from None
    return int(answer.get("delivered", 0))
