"""MediaGraphHttpExtension: each sampled frame POSTed to an HTTP model server.

The HTTP extension protocol (http-extension-protocol.md): the body is the
image (``image/jpeg``, ``image/png``, ``image/bmp`` or ``image/x-raw``), the
endpoint's credentials go as Basic auth or as the header of
MediaGraphHttpHeaderCredentials. The answer:

- 200 with JSON: published as it is (LVA forwards the server's JSON), unless
  its ``inferences`` list is empty; any other content is published wrapped:
  ``{"inferences": [{"type": "other", "other": {"contentType", "contentBytes"}}]}``
  (base64), and the frame goes on downstream;
- 204: nothing found; the frame goes on, nothing is published;
- 503: the server is busy: no frame is sent until ``Retry-After`` (seconds or
  an HTTP date; 1 s when absent) has passed;
- anything else, or no answer: a diagnostic event (once per streak).

One request is in flight at a time, as LVA recommends HTTP for low rates.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import ssl
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from google.protobuf import json_format
from lva_extension.proto.inferencing_pb2 import Inference

from ..endpoints import Endpoint, read_endpoint
from ..extension import ExtensionNode, SamplingSpec, read_image, read_sampling
from ..imaging import ImageSpec
from ..media import Picture
from ..node import NodeContext, RunOptions
from ..observer import AnalyzedFrame, EncodedImage
from ..properties import Reader

log = logging.getLogger(__name__)

TIMEOUT = aiohttp.ClientTimeout(total=10)


@dataclass(frozen=True)
class HttpExtensionSpec:
    endpoint: Endpoint
    image: ImageSpec
    sampling: SamplingSpec


def parse(node: Reader) -> HttpExtensionSpec:
    endpoint = read_endpoint(node)
    if endpoint.url and not endpoint.url.lower().startswith(("http://", "https://")):
        node.fail("endpoint.url", f"expected an http:// or https:// URL, got {endpoint.url!r}")
    return HttpExtensionSpec(endpoint, read_image(node), read_sampling(node))


def retry_after(value: str | None, now: float) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date)."""
    if not value:
        return 1.0
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return 1.0


def _annotations(body: Any) -> tuple[Inference, ...]:
    """The answer's inferences as messages, where they fit LVA's schema."""
    found = []
    for item in body.get("inferences", []) if isinstance(body, dict) else []:
        if not isinstance(item, dict):
            continue
        # The JSON schema spells the type in lower case, the protobuf enum in upper case.
        item = {**item, "type": str(item.get("type", "")).upper()}
        try:
            found.append(json_format.ParseDict(item, Inference(), ignore_unknown_fields=True))
        except (json_format.ParseError, TypeError, ValueError):
            continue
    return tuple(found)


class HttpExtension(ExtensionNode):
    queue_frames = 2

    def __init__(self, spec: HttpExtensionSpec, context: NodeContext) -> None:
        super().__init__(context, spec.sampling)
        self.spec = spec
        self.busy_until = 0.0
        self._reported = ""
        self._url = _through_modules(spec.endpoint.url, context.options)
        self._sequence = 0  # frames posted

    def accepting(self) -> bool:
        return time.monotonic() >= self.busy_until

    def _ssl(self) -> ssl.SSLContext | bool:
        tls = self.spec.endpoint.tls
        if tls is None:
            return True
        context = ssl.create_default_context(cadata=tls.trusted_pem or None)
        context.check_hostname = not tls.ignore_hostname
        return context

    async def serve(self) -> None:
        headers = dict(self.spec.endpoint.headers())
        headers["Content-Type"] = self.spec.image.content_type
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            while (picture := await self.queue.get()) is not None:
                if self.accepting():
                    await self._post(session, headers, picture)

    async def _post(
        self, session: aiohttp.ClientSession, headers: dict[str, str], picture: Picture
    ) -> None:
        context, counters = self.context, self.context.counters
        scaled, area = await asyncio.to_thread(self.spec.image.place, picture.rgb)
        data = await asyncio.to_thread(self.spec.image.encode, scaled)
        self._sequence += 1
        sent = time.monotonic()
        try:
            async with session.post(
                self._url, data=data, headers=headers, ssl=self._ssl()
            ) as reply:
                content = await reply.read()
                status, kind = reply.status, reply.content_type
                wait = retry_after(reply.headers.get("Retry-After"), time.time())
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            self._trouble(
                "NetworkError", {"errorCode": type(error).__name__, "message": str(error)}
            )
            return
        counters.latencies.append(time.monotonic() - sent)
        if status == 503:
            self.busy_until = time.monotonic() + wait
            counters.state = "busy"
            log.info("%s/%s: the server is busy; waiting %.1f s", context.instance, self.name, wait)
            return
        if status not in (200, 204):
            message = f"the extension answered HTTP {status}"
            self._trouble(
                "ProtocolError", {"protocol": "http", "errorCode": str(status), "message": message}
            )
            return
        counters.acks += 1
        counters.state = "answering"
        self._reported = ""
        annotations: tuple[Inference, ...] = ()
        if status == 200:
            body = _body(content, kind)
            if body.get("inferences") != []:
                await context.emit(context.event(picture.time, body))
            annotations = _annotations(body)
        height, width = scaled.shape[:2]
        image = EncodedImage(data, self.spec.image.stream_format(width, height).frame_format())
        context.observer.frame_analyzed(
            AnalyzedFrame(
                context.instance,
                self.name,
                picture.time,
                self._sequence,
                image,
                annotations,
                picture.inferences,
                area,
            )
        )
        counters.passed()
        await context.emit(Picture(picture.time, picture.rgb, (*picture.inferences, *annotations)))

    def _trouble(self, kind: str, body: dict[str, str]) -> None:
        counters = self.context.counters
        counters.state = "failing"
        counters.error(body["message"])
        key = f"{kind}:{body.get('errorCode')}"
        if key != self._reported:
            self._reported = key
            self.context.module_event("Diagnostics", kind, body)
            log.warning("%s/%s: %s", self.context.instance, self.name, body["message"])


def _through_modules(url: str, options: RunOptions) -> str:
    """The URL with a module's host name (as an edge network resolves it) replaced."""
    parts = urlsplit(url)
    if not parts.hostname:
        return url
    default = 443 if parts.scheme == "https" else 80
    host, port = options.address(parts.hostname, parts.port or default)
    if (host, port) == (parts.hostname, parts.port or default):
        return url
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _body(content: bytes, kind: str) -> dict[str, Any]:
    if kind == "application/json" or content[:1] in (b"{", b"["):
        try:
            parsed = json.loads(content)
            if isinstance(parsed, dict):
                return parsed
        except (UnicodeDecodeError, json.JSONDecodeError):
            pass
    wrapped = {"contentType": kind, "contentBytes": base64.b64encode(content).decode()}
    return {"inferences": [{"type": "other", "other": wrapped}]}
