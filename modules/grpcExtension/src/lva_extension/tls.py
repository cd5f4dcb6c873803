"""TLS for the server (tlsCertFile + tlsKeyFile) and for clients (a trusted CA)."""

from __future__ import annotations

import ssl
from pathlib import Path

import grpc

from .errors import ConfigurationError
from .settings import Settings


def _read(setting: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ConfigurationError(f"{setting}: cannot read {path}: {error.strerror}") from None


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """Credentials for a TLS port, or None for plain TCP; checks the files first."""
    if not settings.tls_cert_file and not settings.tls_key_file:
        return None
    if not settings.tls_cert_file or not settings.tls_key_file:
        raise ConfigurationError("tlsCertFile and tlsKeyFile: set both, or neither")
    certificate = _read("tlsCertFile", settings.tls_cert_file)
    key = _read("tlsKeyFile", settings.tls_key_file)
    try:
        # gRPC only reports a bad pair when a client connects; check it now.
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            settings.tls_cert_file, settings.tls_key_file
        )
    except ssl.SSLError as error:
        raise ConfigurationError(
            f"tlsCertFile/tlsKeyFile: not a PEM certificate and its matching key ({error.reason})"
        ) from None
    return grpc.ssl_server_credentials([(key, certificate)])


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


def client_credentials(ca_file: str | Path) -> grpc.ChannelCredentials:
    """Channel credentials that trust the CA (or self-signed certificate) in ca_file."""
    return grpc.ssl_channel_credentials(root_certificates=_read("--tls-ca", str(ca_file)))
