"""Attack: make the server import code of the client's choosing.

Loading code is the operator's decision: dotted paths are off by default, and
when on, only modules under the prefixes the operator lists are imported;
the name is checked before anything is imported. Nothing a plugin raises, not
even SystemExit, leaves its own stream, in either processing mode.
"""

from __future__ import annotations

import grpc
import pytest

from tests.support.hostility import MODES, Target, target
from tests.support.paths import REPO
from tests.support.processes import server_process
from tests.support.streams import descriptor, raw_call, sample

INVALID = grpc.StatusCode.INVALID_ARGUMENT
FRAME = bytes(64 * 48 * 3)


@pytest.fixture(scope="module", params=MODES, ids=list(MODES))
def victim(request):
    with target(*MODES[request.param]) as running:
        yield running


def refused(victim: Target, configuration: str, code: grpc.StatusCode = INVALID) -> str:
    outcome = raw_call(victim.address, [descriptor(configuration=configuration)])
    assert outcome.code == code, (outcome.code, outcome.details)
    return outcome.details


@pytest.mark.parametrize(
    ("configuration", "reason"),
    [
        ("lva_extension.__main__:X", "not allowed"),
        ("unittest.__main__:X", "not allowed"),
        ("tests.__main__:X", "__main__"),
        ("tests.support.__main__:X", "__main__"),
        ("this:X", "not allowed"),
        ("os:system", "not allowed"),
        (".relative:X", "dotted path"),
        (":X", "dotted path"),
        ("tests..support:X", "dotted path"),
        ("tests.support.processors:", "dotted path"),
        ("tests.support.processors:a b", "dotted path"),
        ("tests.support.processors:Nothing.__init__.__globals__", "dunder"),
        ('{"processor": "unittest.__main__:X"}', "not allowed"),
    ],
)
def test_names_outside_the_allowed_modules_are_refused_before_import(victim, configuration, reason):
    assert reason in refused(victim, configuration)
    victim.assert_unharmed()


@pytest.mark.parametrize(
    "name",
    [
        "ExitsInConstructor",
        "InterruptsInConstructor",
        "GeneratorExitInConstructor",
    ],
)
def test_a_constructor_that_raises_base_exceptions_ends_only_its_stream(victim, name):
    # A plugin that fails is a failure on the server's side: INTERNAL, logged.
    details = refused(victim, f"tests.support.hostile_plugins:{name}", grpc.StatusCode.INTERNAL)
    assert "could not be created" in details
    victim.assert_unharmed()


def test_a_module_that_exits_on_import_ends_only_its_stream(victim):
    details = refused(victim, "tests.support.exits_on_import:Anything")
    assert "cannot be loaded" in details
    victim.assert_unharmed()


def test_a_processor_that_exits_while_processing_fails_only_its_frames(victim):
    configuration = "tests.support.hostile_plugins:ExitsInProcess"
    outcome = raw_call(victim.address, [descriptor(configuration=configuration), sample(2, FRAME)])
    assert outcome.code == grpc.StatusCode.OK
    assert [m.ack_sequence_number for m in outcome.responses] == [1, 2]
    victim.assert_unharmed()


def test_a_processor_that_exits_while_closing_is_logged(victim):
    configuration = "tests.support.hostile_plugins:ExitsInClose"
    outcome = raw_call(victim.address, [descriptor(configuration=configuration), sample(2, FRAME)])
    assert outcome.code == grpc.StatusCode.OK
    victim.assert_unharmed()


def test_dotted_paths_are_off_by_default(tmp_path):
    marker = tmp_path / "imported"
    env = {"LVA_TEST_IMPORT_MARKER": str(marker), "PYTHONPATH": str(REPO)}
    with server_process(env=env) as running:
        outcome = raw_call(
            running.address, [descriptor(configuration="tests.support.import_marker:Anything")]
        )
    assert outcome.code == INVALID
    assert "allowProcessorPaths" in outcome.details
    assert not marker.exists()


def test_a_module_outside_the_allowed_prefixes_is_never_imported(tmp_path):
    marker = tmp_path / "imported"
    with server_process(
        "--allow-processor-paths",
        "true",
        "--allowed-processor-modules",
        "tests.support.processors",
        env={"LVA_TEST_IMPORT_MARKER": str(marker), "PYTHONPATH": str(REPO)},
    ) as running:
        outcome = raw_call(
            running.address, [descriptor(configuration="tests.support.import_marker:Anything")]
        )
        allowed = raw_call(
            running.address,
            [descriptor(configuration="tests.support.processors:Nothing"), sample(2, FRAME)],
        )
    assert outcome.code == INVALID
    assert "tests.support.processors" in outcome.details  # says what is allowed
    assert not marker.exists()
    assert allowed.code == grpc.StatusCode.OK
