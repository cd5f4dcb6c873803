"""TLS on the binding: trusted certificates work, anything else fails."""

from __future__ import annotations

import os
import subprocess

import pytest
from lva_extension.client import ClientOptions, ExtensionCallError, StreamFormat
from lva_extension.client.clips import dark_light_frames
from lva_extension.client.credentials import client_credentials

from tests.support.certificates import make_authority, make_self_signed, make_server_certificate
from tests.support.processes import BIN, run_command
from tests.support.streams import run_client


@pytest.fixture
def authority(tmp_path):
    return make_authority(tmp_path)


def stream(address: str, ca, server_name: str | None = None):
    options = ClientOptions(
        address,
        StreamFormat(width=32, height=32),
        channel_credentials=client_credentials(ca),
        channel_options=(("grpc.ssl_target_name_override", server_name),) if server_name else (),
    )
    return run_client(options, dark_light_frames(32, 32, 3))


def tls_server(start_server, cert, key):
    server = start_server(tls_cert_file=str(cert), tls_key_file=str(key))
    return f"localhost:{server.server.port}"


def test_a_client_trusting_the_ca_is_served(start_server, authority, tmp_path):
    address = tls_server(start_server, *make_server_certificate(authority, tmp_path))
    results, summary = stream(address, authority.path)
    assert summary.violations == []
    assert len(results) == 3


def test_server_name_override(start_server, authority, tmp_path):
    server = start_server(
        **dict(
            zip(
                ("tls_cert_file", "tls_key_file"),
                map(str, make_server_certificate(authority, tmp_path, "grpcextension")),
                strict=True,
            )
        )
    )
    results, _ = stream(f"127.0.0.1:{server.server.port}", authority.path, "grpcextension")
    assert len(results) == 3


@pytest.mark.parametrize("problem", ["untrusted CA", "expired", "wrong name"])
def test_certificates_that_must_fail(start_server, authority, tmp_path, problem):
    if problem == "untrusted CA":
        files = make_server_certificate(make_authority(tmp_path, "other CA"), tmp_path)
    elif problem == "expired":
        files = make_server_certificate(authority, tmp_path, expired=True)
    else:
        files = make_server_certificate(authority, tmp_path, host="not-this-host.example")
    address = tls_server(start_server, *files)
    with pytest.raises(ExtensionCallError) as failure:
        stream(address, authority.path)
    assert failure.value.code.name == "UNAVAILABLE"


def test_plain_client_cannot_talk_to_a_tls_server(start_server, authority, tmp_path):
    address = tls_server(start_server, *make_server_certificate(authority, tmp_path))
    with pytest.raises(ExtensionCallError):
        run_client(
            ClientOptions(address, StreamFormat(width=32, height=32)), dark_light_frames(32, 32, 1)
        )


def test_health_command_over_tls(start_server, authority, tmp_path):
    address = tls_server(start_server, *make_server_certificate(authority, tmp_path))
    result = run_command("health", "--address", address, "--tls-ca", str(authority.path))
    assert (result.returncode, result.stdout.strip()) == (0, "SERVING")


@pytest.mark.parametrize("problem", ["missing", "mismatched", "not PEM", "key only"])
def test_bad_files_are_a_clear_start_up_error(authority, tmp_path, problem):
    cert, key = make_server_certificate(authority, tmp_path)
    if problem == "missing":
        args, message = (
            ["--tls-cert-file", str(tmp_path / "nope.crt"), "--tls-key-file", str(key)],
            "tlsCertFile: cannot read",
        )
    elif problem == "mismatched":
        _, other_key = make_server_certificate(authority, tmp_path, host="other.example")
        args, message = (
            ["--tls-cert-file", str(cert), "--tls-key-file", str(other_key)],
            "its matching key",
        )
    elif problem == "not PEM":
        (tmp_path / "junk.pem").write_text("junk")
        args, message = (
            ["--tls-cert-file", str(tmp_path / "junk.pem"), "--tls-key-file", str(key)],
            "not a PEM certificate",
        )
    else:
        args, message = ["--tls-key-file", str(key)], "tlsCertFile and tlsKeyFile: set both"
    result = run_command("serve", "--grpc-binding", "tcp://127.0.0.1:0", *args, timeout=30)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_container_health_check_trusts_its_own_self_signed_certificate(start_server, tmp_path):
    # As in the image: only the environment, a certificate naming the module, and
    # a check that dials the loopback address of grpcBinding.
    cert, key = make_self_signed(tmp_path, "grpcExtension")
    server = start_server(tls_cert_file=str(cert), tls_key_file=str(key))
    env = {
        **os.environ,
        "grpcBinding": f"tcp://0.0.0.0:{server.server.port}",
        "tlsCertFile": str(cert),
        "tlsKeyFile": str(key),
    }
    result = subprocess.run(
        [str(BIN / "lva-extension"), "health"], capture_output=True, text=True, env=env, timeout=30
    )
    assert (result.returncode, result.stdout.strip()) == (0, "SERVING"), result.stderr
