"""``serve --public-address``: a simulator reached through another address (a container's
published port) signs its connection string, and checks tokens, for that address."""

from __future__ import annotations

import pytest
import requests
from cryptography import x509
from lva_simulator.app import SimulatorOptions
from lva_simulator.iothub import sas

from tests.support.simulator import DEVICE, MODULE, running_simulator

PUBLIC = "lva-device.example:18443"


def post(port: int, token_host: str, key: bytes, certificate: str) -> requests.Response:
    resource = f"{token_host}/twins/{DEVICE}/modules/{MODULE}/methods"
    return requests.post(
        f"https://127.0.0.1:{port}/twins/{DEVICE}/modules/{MODULE}/methods",
        json={"methodName": "GraphTopologyList", "payload": {"@apiVersion": "2.0"}},
        headers={"Authorization": sas.generate(resource, "iothubowner", key)},
        verify=certificate,
        timeout=10,
    )


def test_connection_string_certificate_and_tokens_are_for_the_public_address(tmp_path):
    with running_simulator(tmp_path, public_address=PUBLIC) as sim:
        identity = sim.simulator.connection_string
        assert sim.simulator.hub is not None
        port = sim.simulator.hub.port
        written = (tmp_path / "connection-string.txt").read_text().strip()
        certificate = x509.load_pem_x509_certificate(sim.certificate.read_bytes())
        accepted = post(port, PUBLIC, identity.key_bytes, str(sim.certificate))
        refused = post(port, f"127.0.0.1:{port}", identity.key_bytes, str(sim.certificate))

    assert identity.host_name == PUBLIC
    assert written.startswith(f"HostName={PUBLIC};")
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "lva-device.example" in names.get_values_for_type(x509.DNSName)
    assert accepted.status_code == 200 and accepted.json()["status"] == 200
    assert refused.status_code == 401


@pytest.mark.parametrize("address", ["no-port", "host:", ":8443", "host:https"])
def test_a_public_address_without_host_and_port_is_refused(tmp_path, address):
    with pytest.raises(ValueError, match="public address: expected HOST:PORT"):
        SimulatorOptions(state_dir=tmp_path, public_address=address)
