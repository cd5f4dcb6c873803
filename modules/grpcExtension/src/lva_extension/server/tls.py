"""TLS for the server: tlsCertFile + tlsKeyFile, checked at start."""

from __future__ import annotations

import ssl
from pathlib import Path

import grpc

from ..errors import ConfigurationError
from ..settings import Settings


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
