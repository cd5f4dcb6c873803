"""Basic credentials: every call must carry them when the server is configured with them."""

from __future__ import annotations

import base64

import grpc
import pytest
from lva_extension.client import ClientOptions, StreamFormat
from lva_extension.client.clips import dark_light_frames
from lva_extension.client.credentials import basic_header

from tests.support.processes import run_command, server_process
from tests.support.streams import descriptor, raw_call, run_client, sample

PASSWORD = "s3cret-Pässword"
FRAME = bytes(64 * 48 * 3)
HEADER = "x-ms-authentication"
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED

CASES = [
    ("no header", None, UNAUTHENTICATED, "missing x-ms-authentication credentials"),
    ("wrong scheme", "Bearer abc", UNAUTHENTICATED, "expected Basic credentials"),
    ("no credentials after the scheme", "Basic", UNAUTHENTICATED, "expected Basic credentials"),
    ("bad base64", "Basic !!!not-base64!!!", UNAUTHENTICATED, "malformed Basic credentials"),
    ("wrong password", basic_header("lva", "guess"), UNAUTHENTICATED, "wrong username or password"),
    ("wrong user", basic_header("admin", PASSWORD), UNAUTHENTICATED, "wrong username or password"),
    ("right credentials", basic_header("lva", PASSWORD), grpc.StatusCode.OK, ""),
    ("lower-case scheme", "basic " + basic_header("lva", PASSWORD)[6:], grpc.StatusCode.OK, ""),
]


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    password_file = tmp_path_factory.mktemp("secrets") / "password"
    password_file.write_text(PASSWORD + "\n")
    with server_process(
        "--auth-username", "lva", "--auth-password-file", str(password_file), "--log-level", "DEBUG"
    ) as running:
        yield running


@pytest.mark.parametrize(("case", "header", "code", "message"), CASES, ids=[c[0] for c in CASES])
def test_credentials(guarded, case, header, code, message):
    metadata = ((HEADER, header),) if header is not None else None
    outcome = raw_call(guarded.address, [descriptor(), sample(2, FRAME)], metadata=metadata)
    assert outcome.code == code
    assert message in outcome.details
    if code == UNAUTHENTICATED:
        assert outcome.responses == []  # refused before any frame was touched


def test_the_client_sends_credentials(guarded):
    options = ClientOptions(
        guarded.address,
        StreamFormat(width=32, height=32),
        metadata=((HEADER, basic_header("lva", PASSWORD)),),
    )
    results, summary = run_client(options, dark_light_frames(32, 32, 3))
    assert summary.violations == []
    assert len(results) == 3


def test_send_command_with_credentials(guarded):
    ok = run_command(
        "send",
        "--address",
        guarded.address,
        "--frames",
        "3",
        "--username",
        "lva",
        "--password",
        PASSWORD,
        "--quiet",
    )
    refused = run_command("send", "--address", guarded.address, "--frames", "3")
    assert ok.returncode == 0, ok.stderr
    assert refused.returncode == 1
    assert "UNAUTHENTICATED: missing x-ms-authentication credentials" in refused.stderr


def test_health_needs_no_credentials(guarded):
    assert run_command("health", "--address", guarded.address).stdout.strip() == "SERVING"


def test_the_secret_never_appears_in_the_log(guarded):
    for _case, header, _code, _message in CASES:
        metadata = ((HEADER, header),) if header is not None else None
        raw_call(guarded.address, [descriptor(), sample(2, FRAME)], metadata=metadata)
    guarded.stop()
    log = "\n".join(guarded.log)
    assert "refused a call" in log  # the log is there, and at DEBUG
    secrets = [PASSWORD, base64.b64encode(f"lva:{PASSWORD}".encode()).decode(), "guess"]
    assert [s for s in secrets if s in log] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--auth-username", "lva"],
            "authUsername and authPassword (or authPasswordFile): set both",
        ),
        (["--auth-password", "x"], "set both, or neither"),
        (
            ["--auth-username", "lva", "--auth-password-file", "/nonexistent/pw"],
            "authPasswordFile: cannot read /nonexistent/pw",
        ),
        (["--auth-username", "a:b", "--auth-password", "x"], "authUsername: must not contain ':'"),
    ],
)
def test_incomplete_credentials_stop_the_server_with_one_line(args, message):
    result = run_command("serve", "--grpc-binding", "tcp://127.0.0.1:0", *args, timeout=30)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
