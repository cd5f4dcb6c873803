"""The IoT Hub front end over real HTTPS: the azure-iot-hub SDK, and raw requests."""

from __future__ import annotations

import base64

import pytest
import requests
from azure.iot.hub import IoTHubRegistryManager  # type: ignore[import-untyped]
from azure.iot.hub.models import CloudToDeviceMethod  # type: ignore[import-untyped]
from lva_simulator.iothub import sas
from msrest.exceptions import HttpOperationError

from tests.support.simulator import DEVICE, MODULE, running_simulator


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    with running_simulator(tmp_path_factory.mktemp("hub")) as running:
        yield running


@pytest.fixture
def trusted(sim, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(sim.certificate))


def sdk_call(connection_string, device=DEVICE, module=MODULE, payload=None):
    registry = IoTHubRegistryManager.from_connection_string(connection_string)
    method = CloudToDeviceMethod(
        method_name="GraphTopologyList",
        payload=payload if payload is not None else {"@apiVersion": "2.0"},
        response_timeout_in_seconds=10,
    )
    return registry.invoke_device_module_method(device, module, method)


def test_the_sdk_gets_the_module_answer(sim, trusted):
    result = sdk_call(sim.connection_string)
    assert (result.status, result.payload) == (200, {"value": []})
    module_error = sdk_call(sim.connection_string, payload={"@apiVersion": "9.9"})
    assert module_error.status == 400  # the module's status, inside an HTTP 200
    assert module_error.payload["error"]["code"] == "ApiVersionNotSupported"


def test_the_certificate_is_checked(sim, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    url = f"https://{sim.simulator.connection_string.host_name}/twins/x/modules/y/methods"
    with pytest.raises(requests.exceptions.SSLError):
        requests.post(url, json={}, timeout=10)


def test_a_wrong_key_is_refused_by_the_sdk(sim, trusted):
    identity = sim.simulator.connection_string
    wrong = base64.b64encode(b"w" * 32).decode()
    with pytest.raises(HttpOperationError) as caught:
        sdk_call(str(identity).replace(identity.key, wrong))
    assert caught.value.response.status_code == 401
    assert "IotHubUnauthorizedAccess" in caught.value.response.text


@pytest.mark.parametrize(
    ("device", "module", "code"),
    [("nobody", MODULE, 404001), (DEVICE, "nomodule", 404010)],
    ids=["unknown-device", "unknown-module"],
)
def test_unknown_devices_and_modules_are_404(sim, trusted, device, module, code):
    with pytest.raises(HttpOperationError) as caught:
        sdk_call(sim.connection_string, device, module)
    assert caught.value.response.status_code == 404
    assert caught.value.response.json()["errorCode"] == code


def raw_post(sim, header, body, device=DEVICE):
    host = sim.simulator.connection_string.host_name
    return requests.post(
        f"https://{host}/twins/{device}/modules/{MODULE}/methods?api-version=2021-04-12",
        json=body,
        headers={"Authorization": header},
        verify=str(sim.certificate),
        timeout=10,
    )


@pytest.mark.parametrize(
    ("resource", "ttl"),
    [(None, -60), ("elsewhere.azure-devices.net", 600), ("{host}/twins/other-device", 600)],
    ids=["expired", "other-hub", "other-device"],
)
def test_tokens_for_something_else_are_401(sim, resource, ttl):
    identity = sim.simulator.connection_string
    target = (resource or identity.host_name).replace("{host}", identity.host_name)
    header = sas.generate(target, identity.key_name, identity.key_bytes, ttl)
    answer = raw_post(sim, header, {"methodName": "GraphTopologyList", "payload": {}})
    assert answer.status_code == 401


@pytest.mark.parametrize(
    "body",
    [{"payload": {}}, {"methodName": "X", "responseTimeoutInSeconds": 1}, ["not", "an", "object"]],
    ids=["no-method-name", "timeout-too-short", "not-an-object"],
)
def test_malformed_requests_are_400(sim, body):
    identity = sim.simulator.connection_string
    header = sas.generate(identity.host_name, identity.key_name, identity.key_bytes)
    assert raw_post(sim, header, body).status_code == 400
