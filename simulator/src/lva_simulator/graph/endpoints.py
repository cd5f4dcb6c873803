"""Endpoints and credentials of RTSP sources and extensions (MediaGraph*Endpoint)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field

from .properties import Reader

UNSECURED, TLS = "MediaGraphUnsecuredEndpoint", "MediaGraphTlsEndpoint"
USERNAME_PASSWORD = "MediaGraphUsernamePasswordCredentials"
HTTP_HEADER = "MediaGraphHttpHeaderCredentials"


@dataclass(frozen=True)
class TlsSpec:
    trusted_pem: str  # "" = the system's roots
    ignore_hostname: bool


@dataclass(frozen=True)
class Endpoint:
    url: str
    username: str = ""
    password: str = field(default="", repr=False)
    header: tuple[str, str] | None = field(default=None, repr=False)  # HttpHeaderCredentials
    tls: TlsSpec | None = None

    def headers(self) -> tuple[tuple[str, str], ...]:
        """The credentials as a header: Basic for a user name, or the header given."""
        if self.header is not None:
            return (self.header,)
        if self.username or self.password:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return (("Authorization", f"Basic {token}"),)
        return ()


def _type(reader: Reader) -> str:
    text = str(reader.node.get("@type", ""))
    return text.rsplit(".", 1)[-1]


def read_endpoint(node: Reader, tls_allowed: bool = True) -> Endpoint:
    if not isinstance(node.node.get("endpoint"), Mapping):
        node.fail("endpoint", "an endpoint is required", "PropertyRequired")
        return Endpoint("")
    reader = node.child("endpoint")
    url = reader.text("url")
    username = password = ""
    header = None
    if reader.present("credentials"):
        credentials = reader.child("credentials")
        kind = _type(credentials).lower()
        if kind == USERNAME_PASSWORD.lower():
            username = credentials.text("username", "")
            password = credentials.text("password", "")
        elif kind == HTTP_HEADER.lower():
            header = (credentials.text("headerName"), credentials.text("headerValue", ""))
        else:
            credentials.fail(
                "@type",
                f"credentials: expected #Microsoft.Media.{USERNAME_PASSWORD} or {HTTP_HEADER}",
            )
    kind = _type(reader).lower()
    if kind == UNSECURED.lower():
        return Endpoint(url, username, password, header)
    if kind != TLS.lower() or not tls_allowed:
        expected = f"{UNSECURED} or {TLS}" if tls_allowed else UNSECURED
        reader.fail("@type", f"endpoint: expected #Microsoft.Media.{expected}")
        return Endpoint(url, username, password, header)
    return Endpoint(url, username, password, header, _tls(reader))


def _tls(endpoint: Reader) -> TlsSpec:
    pem = ""
    if endpoint.present("trustedCertificates"):
        certificates = endpoint.child("trustedCertificates").node.get("certificates")
        if not isinstance(certificates, list) or not all(
            isinstance(c, str) and "BEGIN CERTIFICATE" in c for c in certificates
        ):
            endpoint.fail("trustedCertificates", "expected {certificates: [PEM strings]}")
        else:
            pem = "\n".join(c.strip() for c in certificates) + "\n"
    options = endpoint.child("validationOptions")
    ignore_hostname = options.flag("ignoreHostname", False)
    if options.flag("ignoreSignature", False):
        options.fail(
            "ignoreSignature",
            "ignoreSignature 'true' is not supported by the simulator: put the extension's"
            " certificate (or its CA) in trustedCertificates instead",
            "NotSupportedBySimulator",
        )
    return TlsSpec(pem, ignore_hostname)
