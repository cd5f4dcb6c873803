"""SAS tokens and connection strings, checked as IoT Hub checks them."""

from __future__ import annotations

import base64
import time
from urllib.parse import quote, quote_plus

import pytest
from lva_simulator.iothub import sas
from lva_simulator.iothub.connection_string import ConnectionStringError, HubConnectionString

KEY = base64.b64encode(b"k" * 32).decode()
OTHER_KEY = base64.b64encode(b"x" * 32).decode()
HOST = "127.0.0.1:8443"
RESOURCE = f"{HOST}/twins/dev/modules/lvaEdge/methods"


def token(
    resource: str = HOST, key: str = KEY, policy: str = "iothubowner", ttl: int = 3600
) -> str:
    return sas.generate(resource, policy, base64.b64decode(key), ttl)


def test_the_sdk_token_format_verifies():
    # What azure-iot-hub's SasToken builds: quote_plus(uri), quote(b64 signature).
    expiry = int(time.time()) + 60
    raw = quote_plus(HOST)
    signature = quote(sas.sign(raw, expiry, base64.b64decode(KEY)))
    header = f"SharedAccessSignature sr={raw}&sig={signature}&se={expiry}&skn=iothubowner"
    parsed = sas.verify(header, RESOURCE, "iothubowner", base64.b64decode(KEY))
    assert parsed.resource == HOST


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (token(key=OTHER_KEY), "signature does not match"),
        (token(ttl=-10), "expired"),
        (token(resource="other-hub.azure-devices.net"), "not for"),
        (token(resource=f"{HOST}/twins/another-device"), "not for"),
        (token(policy="service"), "unknown shared access policy"),
        ("Bearer abc", "SharedAccessSignature"),
        ("SharedAccessSignature sr=x&se=1", "lacks sig"),
        ("SharedAccessSignature sr=x&sig=y&se=soon&skn=iothubowner", "Unix time"),
        ("", "SharedAccessSignature"),
    ],
    ids=[
        "wrong-key",
        "expired",
        "other-hub",
        "other-device",
        "wrong-policy",
        "not-sas",
        "incomplete",
        "bad-expiry",
        "missing",
    ],
)
def test_bad_tokens_are_refused_with_a_reason(header, reason):
    with pytest.raises(sas.SasError, match=reason):
        sas.verify(header, RESOURCE, "iothubowner", base64.b64decode(KEY))


def test_a_token_for_the_device_prefix_is_accepted():
    header = token(resource=f"{HOST}/twins/dev")
    sas.verify(header, RESOURCE, "iothubowner", base64.b64decode(KEY))


def test_connection_string_round_trip():
    text = f"HostName={HOST};SharedAccessKeyName=iothubowner;SharedAccessKey={KEY}"
    parsed = HubConnectionString.parse(text)
    assert (parsed.host_name, parsed.key_name, parsed.key) == (HOST, "iothubowner", KEY)
    assert str(parsed) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("HostName=h;SharedAccessKeyName=p", "missing SharedAccessKey"),
        ("HostName=h;SharedAccessKeyName=p;SharedAccessKey=***", "not valid base64"),
        ("HostName=h;HostName=h;SharedAccessKey=a", "Name=value pairs"),
        ("just text", "Name=value pairs"),
    ],
)
def test_bad_connection_strings_say_why(text, message):
    with pytest.raises(ConnectionStringError, match=message):
        HubConnectionString.parse(text)
