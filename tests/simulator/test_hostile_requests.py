"""Hostile requests to the simulator's hub: 400 for any body, never 500; and the
state directory, which holds the hub's key, closed to everyone but its owner."""

from __future__ import annotations

import stat

import pytest
import requests
from lva_simulator.iothub import sas

from tests.support.simulator import DEVICE, MODULE, running_simulator


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    with running_simulator(tmp_path_factory.mktemp("hostile") / "state") as running:
        yield running


def post(sim, data: bytes) -> requests.Response:
    identity = sim.simulator.connection_string
    host = identity.host_name
    return requests.post(
        f"https://{host}/twins/{DEVICE}/modules/{MODULE}/methods?api-version=2021-04-12",
        data=data,
        headers={
            "Authorization": sas.generate(host, identity.key_name, identity.key_bytes),
            "Content-Type": "application/json",
        },
        verify=str(sim.certificate),
        timeout=30,
    )


def method(payload: str) -> bytes:
    return f'{{"methodName": "GraphTopologyList", "payload": {payload}}}'.encode()


BODIES = {
    "60k-deep list": b"[" * 60_000 + b"]" * 60_000,
    "deep object": b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
    "deep payload": method("[" * 500 + "]" * 500),
    "5000-digit integer": method('{"@apiVersion": "2.0", "top": ' + "9" * 5000 + "}"),
    "5000-digit timeout": b'{"methodName": "X", "responseTimeoutInSeconds": ' + b"9" * 5000 + b"}",
    "not UTF-8": b'{"methodName": "\xff\xfe"}',
    "NaN": b'{"methodName": "GraphTopologyList", "responseTimeoutInSeconds": NaN}',
    "empty": b"",
}


@pytest.mark.parametrize("body", BODIES, ids=list(BODIES))
def test_any_malformed_body_is_400_and_the_hub_goes_on(sim, body):
    answer = post(sim, BODIES[body])
    assert answer.status_code == 400, answer.text[:300]
    assert post(sim, method('{"@apiVersion": "2.0"}')).status_code == 200


def test_a_body_over_the_size_limit_is_413(sim):
    assert post(sim, b"[" * 100_000 + b"]" * 100_000).status_code == 413


def test_the_state_directory_and_its_secrets_are_the_owners_only(sim):
    state = sim.options.state_dir
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for name in ("connection-string.txt", "hub-key.txt"):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name
