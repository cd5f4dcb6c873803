"""What the client presents: LVA's Basic credentials header and TLS channel credentials."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path

import grpc

from ..contract import AUTH_HEADER
from ..errors import ConfigurationError


def basic_header(username: str, password: str) -> str:
    """The ``x-ms-authentication`` value LVA sends for these credentials."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def auth_metadata(username: str, password: str) -> tuple[tuple[str, str], ...]:
    """Call metadata carrying the credentials (none without a username)."""
    return ((AUTH_HEADER, basic_header(username, password)),) if username else ()


def client_credentials(ca_file: str | Path) -> grpc.ChannelCredentials:
    """Channel credentials that trust the CA (or self-signed certificate) in ca_file."""
    try:
        roots = Path(ca_file).read_bytes()
    except OSError as error:
        raise ConfigurationError(f"--tls-ca: cannot read {ca_file}: {error.strerror}") from None
    return grpc.ssl_channel_credentials(root_certificates=roots)


def certificate_host_name(path: str | Path) -> str | None:
    """The first DNS name (else the common name) a PEM certificate is for, or None."""
    try:
        # The standard library's own decoder: private, but in every CPython 3.
        decoded = ssl._ssl._test_decode_cert(str(path))  # type: ignore[attr-defined]
    except (AttributeError, ssl.SSLError, OSError):
        return None
    for kind, value in decoded.get("subjectAltName", ()):
        if kind == "DNS":
            return str(value)
    for rdn in decoded.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None
