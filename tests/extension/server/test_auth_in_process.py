"""Basic credentials, checked on a server in this process (test_auth.py runs a real
process; this file lets mutation testing see the checks, and covers what needs the log)."""

from __future__ import annotations

import logging
import re
import threading

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from lva_extension.client.credentials import basic_header

from tests.extension.server.test_auth import CASES, FRAME, HEADER, PASSWORD, UNAUTHENTICATED
from tests.support.servers import RunningServer, loopback_settings, running_server
from tests.support.streams import descriptor, raw_call, sample

AUTH_LOG = "lva_extension.server.auth"


@pytest.fixture(scope="module")
def guarded():
    with running_server(auth_username="lva", auth_password=PASSWORD) as running:
        yield running


@pytest.mark.parametrize(("case", "header", "code", "message"), CASES, ids=[c[0] for c in CASES])
def test_credentials(guarded, case, header, code, message):
    metadata = ((HEADER, header),) if header is not None else None
    outcome = raw_call(guarded.address, [descriptor(), sample(2, FRAME)], metadata=metadata)
    assert outcome.code == code
    if code == UNAUTHENTICATED:
        assert message in outcome.details
        assert outcome.responses == []  # refused before any frame was touched
    else:
        assert len(outcome.responses) == 2  # the descriptor's answer and the frame's


@pytest.mark.parametrize(
    ("header", "details"),
    [
        (None, "missing x-ms-authentication credentials"),
        ("Bearer abc", "x-ms-authentication: expected Basic credentials"),
        ("Basic !!!", "x-ms-authentication: malformed Basic credentials"),
        (basic_header("lva", "guess"), "wrong username or password"),
    ],
)
def test_each_refusal_says_exactly_why(guarded, header, details):
    metadata = ((HEADER, header),) if header is not None else None
    outcome = raw_call(guarded.address, [descriptor(), sample(2, FRAME)], metadata=metadata)
    assert (outcome.code, outcome.details) == (UNAUTHENTICATED, details)


def test_credentials_with_spaces_around_the_encoded_part_are_accepted(guarded):
    header = "Basic  " + basic_header("lva", PASSWORD)[6:] + " "
    outcome = raw_call(guarded.address, [descriptor()], metadata=((HEADER, header),))
    assert outcome.code == grpc.StatusCode.OK


def test_health_needs_no_credentials(guarded):
    with grpc.insecure_channel(guarded.address) as channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_a_refusal_is_logged_with_its_method_and_reason_but_no_secret(guarded, caplog):
    caplog.set_level(logging.DEBUG, logger=AUTH_LOG)
    raw_call(guarded.address, [descriptor()], metadata=((HEADER, basic_header("lva", "guess")),))
    refusals = [r for r in caplog.records if r.name == AUTH_LOG]
    assert [(r.levelname, r.getMessage()) for r in refusals] == [
        (
            "WARNING",
            "refused a call to /microsoft.azure.media.live_video_analytics.extensibility.grpc.v1"
            ".MediaGraphExtension/ProcessMediaStream: wrong username or password",
        )
    ]


@pytest.mark.parametrize(
    ("written", "password"), [(" a pass \r\n", " a pass "), ("passX\n", "passX")]
)
def test_the_password_file_loses_its_line_end_only(tmp_path, written, password):
    password_file = tmp_path / "password"
    password_file.write_text(written, newline="")
    with running_server(auth_username="lva", auth_password_file=str(password_file)) as running:
        right = basic_header("lva", password)
        outcome = raw_call(running.address, [descriptor()], metadata=((HEADER, right),))
        assert outcome.code == grpc.StatusCode.OK
        trimmed = basic_header("lva", password.strip().rstrip("X"))
        outcome = raw_call(running.address, [descriptor()], metadata=((HEADER, trimmed),))
        assert outcome.code == UNAUTHENTICATED


def test_a_refused_client_that_sends_nothing_hears_why(guarded):
    outcome = raw_call(guarded.address, [])  # opens the call and half-closes at once
    assert (outcome.code, outcome.details) == (
        UNAUTHENTICATED,
        "missing x-ms-authentication credentials",
    )
    quiet = threading.Event()

    def silent():  # opens the call and then says nothing, for longer than the call may last
        quiet.wait(60)
        yield from ()

    try:
        outcome = raw_call(guarded.address, silent(), timeout=20)
    finally:
        quiet.set()
    assert (outcome.code, outcome.details) == (
        UNAUTHENTICATED,
        "missing x-ms-authentication credentials",
    )


def test_the_start_says_whether_calls_need_credentials(caplog):
    caplog.set_level(logging.INFO, logger=AUTH_LOG)
    with running_server():
        pass
    with running_server(auth_username="lva", auth_password=PASSWORD):
        pass
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == AUTH_LOG]
    assert said == [
        ("WARNING", "no credentials configured (authUsername/authPassword): the endpoint is open"),
        ("INFO", "calls must carry x-ms-authentication Basic credentials for user lva"),
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"auth_username": "lva"},
            "authUsername and authPassword (or authPasswordFile): set both, or neither",
        ),
        (
            {"auth_password": "x"},
            "authUsername and authPassword (or authPasswordFile): set both, or neither",
        ),
        (
            {"auth_password": "x", "auth_password_file": "/dev/null"},
            "authPassword and authPasswordFile: set one, not both",
        ),
        (
            {"auth_username": "lva", "auth_password_file": "/nonexistent/pw"},
            "authPasswordFile: cannot read /nonexistent/pw: No such file or directory",
        ),
        (
            {"auth_username": "a:b", "auth_password": "x"},
            "authUsername: must not contain ':' (Basic credentials)",
        ),
    ],
)
def test_incomplete_credentials_stop_the_start_with_one_line(overrides, message):
    with pytest.raises(Exception, match=re.escape(message)) as raised:
        RunningServer(loopback_settings(**overrides))
    assert str(raised.value) == message
