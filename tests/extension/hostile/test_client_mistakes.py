"""Attack: input that used to make the server answer INTERNAL (a server bug) or
echo the client's input back whole.

INTERNAL is for server bugs only: every client mistake here gets
INVALID_ARGUMENT or RESOURCE_EXHAUSTED, and a status quotes at most about 200
characters of what the client sent.
"""

from __future__ import annotations

import grpc
import pytest

from tests.support.hostility import target
from tests.support.streams import descriptor, raw_call, sample

INVALID = grpc.StatusCode.INVALID_ARGUMENT
FRAME = bytes(64 * 48 * 3)


@pytest.fixture(scope="module")
def victim():
    with target() as running:
        yield running


CASES = {
    "100k-deep JSON": ("[" * 100_000 + "]" * 100_000, INVALID, "extension_configuration of up to"),
    "30k-deep JSON": ("[" * 30_000 + "]" * 30_000, INVALID, "JSON nested too deeply"),
    "deep JSON object": ('{"a":' * 10_000 + "1" + "}" * 10_000, INVALID, "JSON nested too deeply"),
    "5000-digit integer": ('{"threshold": ' + "9" * 5000 + "}", INVALID, "not valid JSON"),
    "a huge float": ('{"threshold": 1e999}', INVALID, "threshold"),
    "relative module": (".relative:X", INVALID, "dotted path"),
    "no module": (":X", INVALID, "dotted path"),
    "colon only": (":", INVALID, "dotted path"),
    "a 10 MB configuration": ("x" * 10_000_000, INVALID, "extension_configuration of up to"),
    "a long processor name": ("y" * 60_000, INVALID, "unknown processor"),
    "a long option name": ('{"' + "z" * 60_000 + '": 1}', INVALID, "unexpected keyword"),
    "a long processor value": (
        '{"processor": [' + "1," * 20_000 + "1]}",
        INVALID,
        "non-empty string",
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_client_mistakes_get_a_short_status_that_is_not_internal(victim, case):
    configuration, code, words = CASES[case]
    outcome = raw_call(victim.address, [descriptor(configuration=configuration), sample(2, FRAME)])
    assert outcome.code == code, (outcome.code, outcome.details[:300])
    assert words in outcome.details
    assert len(outcome.details) < 400
    victim.assert_unharmed()


def test_a_long_graph_name_is_shortened_in_the_log(victim):
    message = descriptor()
    message.media_stream_descriptor.graph_identifier.graph_instance_name = "g" * 100_000
    outcome = raw_call(victim.address, [message, sample(2, FRAME)])
    assert outcome.code == grpc.StatusCode.OK
    assert max(len(line) for line in victim.running.log) < 2000
    victim.assert_unharmed()
