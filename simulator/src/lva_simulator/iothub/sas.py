"""IoT Hub shared access signatures: what azure-iot-hub sends, checked as IoT Hub does.

A token is ``SharedAccessSignature sr=<resource>&sig=<signature>&se=<expiry>&skn=<policy>``
where the signature is base64(HMAC-SHA256(key, "<resource as in the token>\\n<expiry>"))
and the resource is URL-encoded (``quote_plus``) in the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import quote, quote_plus, unquote, unquote_plus

PREFIX = "SharedAccessSignature "


class SasError(Exception):
    """Why a request is not authorized (said in the 401 answer)."""


@dataclass(frozen=True)
class SasToken:
    resource_raw: str  # as it appears in the token (URL-encoded)
    signature: str  # base64, URL-decoded
    expiry: int
    key_name: str

    @property
    def resource(self) -> str:
        return unquote_plus(self.resource_raw)


def parse(header: str) -> SasToken:
    if not header.startswith(PREFIX):
        raise SasError("expected an Authorization header 'SharedAccessSignature sr=...&sig=...'")
    fields: dict[str, str] = {}
    for part in header[len(PREFIX) :].strip().split("&"):
        name, sep, value = part.partition("=")
        if not sep:
            raise SasError(f"malformed shared access signature field {part!r}")
        fields[name] = value
    missing = [k for k in ("sr", "sig", "se") if k not in fields]
    if missing:
        raise SasError(f"the shared access signature lacks {', '.join(missing)}")
    try:
        expiry = int(fields["se"])
    except ValueError:
        raise SasError(f"se must be a Unix time, got {fields['se']!r}") from None
    return SasToken(fields["sr"], unquote(fields["sig"]), expiry, fields.get("skn", ""))


def sign(resource_raw: str, expiry: int, key: bytes) -> str:
    message = f"{resource_raw}\n{expiry}".encode()
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def generate(resource: str, key_name: str, key: bytes, ttl: int = 3600) -> str:
    """A token as azure-iot-hub makes one (for our own tools and tests)."""
    resource_raw = quote_plus(resource)
    expiry = int(time.time()) + ttl
    signature = quote(sign(resource_raw, expiry, key))
    return f"{PREFIX}sr={resource_raw}&sig={signature}&se={expiry}&skn={key_name}"


def verify(
    header: str, request_resource: str, key_name: str, key: bytes, now: float | None = None
) -> SasToken:
    """Check a token for a request on ``request_resource`` (``host/twins/...``)."""
    token = parse(header)
    if token.key_name != key_name:
        raise SasError(f"unknown shared access policy {token.key_name!r}")
    if token.expiry < (time.time() if now is None else now):
        raise SasError(f"the token expired at {token.expiry} (Unix time)")
    # The token's resource must be the hub or a prefix of the resource asked for.
    resource = token.resource.lower().removeprefix("https://").rstrip("/")
    host = request_resource.lower().split("/", 1)[0]
    target = request_resource.lower()
    if not (resource == host or (resource.startswith(host + "/") and target.startswith(resource))):
        raise SasError(f"the token is for {token.resource!r}, not for {request_resource!r}")
    expected = sign(token.resource_raw, token.expiry, key)
    if not hmac.compare_digest(expected.encode(), token.signature.encode()):
        raise SasError("the signature does not match the policy's key")
    return token
