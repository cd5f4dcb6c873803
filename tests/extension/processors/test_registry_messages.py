"""What a client reads when the registry refuses its processor, which options a stream
may set, and how a stream's configuration merges with defaultProcessor."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from lva_extension.errors import ExtensionError, FailedPrecondition, Internal, InvalidArgument
from lva_extension.processors import (
    LoadingRules,
    ProcessorSpec,
    create_processor,
    known_processors,
    parse_configuration,
    resolve_processor_class,
)

from tests.support.processors import ChannelMeans
from tests.support.registry_plugins import Family, Served

REGISTRY_LOG = "lva_extension.processors.registry"
PLUGINS = "tests.support.registry_plugins"
TESTS = LoadingRules(allow_paths=True, allowed_modules=("tests",))
SERVED = f"{PLUGINS}:Served"


def refusal(error: type[ExtensionError], call: object, *args: object) -> str:
    assert callable(call)
    with pytest.raises(error) as raised:
        call(*args)
    assert type(raised.value) is error
    return raised.value.message


# --- reading extension_configuration and defaultProcessor -------------------------------


@pytest.mark.parametrize(
    ("configuration", "message"),
    [
        ("[1, 2]", "extension_configuration: expected a JSON object"),
        (
            "{nope",
            "extension_configuration: not valid JSON (Expecting property name enclosed in"
            " double quotes: line 1 column 2 (char 1))",
        ),
        ("[" * 100_000, "extension_configuration: JSON nested too deeply"),
        (
            '{"processor": 5}',
            'extension_configuration: "processor" must be a non-empty string, got 5',
        ),
        (
            '{"processor": "  "}',
            "extension_configuration: \"processor\" must be a non-empty string, got '  '",
        ),
        (
            '{"processor": null, "threshold": 3}',
            'extension_configuration: "processor" must be a non-empty string, got None',
        ),
    ],
)
def test_what_a_client_reads_when_its_configuration_is_malformed(configuration, message):
    assert refusal(InvalidArgument, parse_configuration, configuration, "colorIntensity") == (
        message
    )


def test_a_bad_default_processor_is_named_as_such():
    assert refusal(InvalidArgument, parse_configuration, "", "[3]") == (
        "defaultProcessor: expected a JSON object"
    )
    assert refusal(InvalidArgument, parse_configuration, "", '{"processor": ""}') == (
        "defaultProcessor: \"processor\" must be a non-empty string, got ''"
    )


@pytest.mark.parametrize(
    ("configuration", "name"),
    [
        ("  motion  ", "motion"),
        ("Xception", "Xception"),  # only { or [ starts JSON
        ('  {"processor": "  motion "}  ', "motion"),
        ('{"processor": "tests.x:Y"}', "tests.x:Y"),
    ],
)
def test_names_are_read_without_surrounding_blanks(configuration, name):
    assert parse_configuration(configuration, "colorIntensity").name == name


# --- merging a stream's configuration with defaultProcessor ------------------------------


DEFAULT = f'{{"processor": "{SERVED}", "path": "/models/a", "threshold": 5}}'


def test_an_empty_configuration_gets_the_default_with_its_options():
    spec = parse_configuration("", DEFAULT)
    assert (spec.name, dict(spec.options)) == (SERVED, {"path": "/models/a", "threshold": 5})
    assert spec.stream_keys == frozenset()


def test_options_alone_refine_the_default_and_win_over_its_own():
    spec = parse_configuration('{"threshold": 9}', DEFAULT)
    assert (spec.name, dict(spec.options)) == (SERVED, {"path": "/models/a", "threshold": 9})
    assert spec.stream_keys == frozenset({"threshold"})


def test_naming_the_default_processor_keeps_its_options_under_the_streams():
    spec = parse_configuration(f'{{"processor": "{SERVED}", "workers": 2}}', DEFAULT)
    assert dict(spec.options) == {"path": "/models/a", "threshold": 5, "workers": 2}
    assert spec.stream_keys == frozenset({"workers"})
    assert parse_configuration(SERVED, DEFAULT).options == {"path": "/models/a", "threshold": 5}


def test_another_processor_gets_none_of_the_defaults_options():
    spec = parse_configuration('{"processor": "motion", "sensitivity": "high"}', DEFAULT)
    assert (spec.name, dict(spec.options)) == ("motion", {"sensitivity": "high"})
    assert spec.stream_keys == frozenset({"sensitivity"})
    named = parse_configuration("colorIntensity", DEFAULT)
    assert (named.name, dict(named.options), named.stream_keys) == (
        "colorIntensity",
        {},
        frozenset(),
    )


def test_without_a_default_processor_a_stream_must_name_one():
    assert parse_configuration("", "") == ProcessorSpec("", {})
    spec = parse_configuration('{"threshold": 3}', "")
    assert (spec.name, dict(spec.options)) == ("", {"threshold": 3})
    assert refusal(InvalidArgument, create_processor, spec) == (
        "unknown processor ''; known processors: colorIntensity, motion, onnx"
    )


# --- options a stream may set, and the processor's own refusals --------------------------


def test_the_default_sets_the_operators_options_and_a_stream_the_rest():
    created = create_processor(parse_configuration('{"threshold": 9}', DEFAULT), TESTS)
    assert isinstance(created, Served)
    assert (created.path, created.workers, created.threshold) == ("/models/a", 1, 9)


@pytest.mark.parametrize(
    ("configuration", "refused"),
    [
        ('{"path": "/etc/passwd"}', "path"),
        (
            f'{{"processor": "{SERVED}", "workers": 64, "path": "/x", "threshold": 1}}',
            "path, workers",
        ),
    ],
)
def test_what_a_stream_reads_when_it_sets_an_operators_option(configuration, refused):
    spec = parse_configuration(configuration, DEFAULT)
    assert refusal(InvalidArgument, create_processor, spec, TESTS) == (
        f"extension_configuration: a stream cannot set {refused} of processor '{SERVED}'"
        " (files and resources are the server's: defaultProcessor); it chooses a model of"
        ' the model repository by name: {"model": NAME}'
    )


def test_a_processors_own_error_reaches_the_client_unchanged():
    spec = ProcessorSpec(f"{PLUGINS}:BrokenModel")
    assert refusal(FailedPrecondition, create_processor, spec, TESTS) == (
        "model 'm' is broken: its graph has no input"
    )


def test_a_bad_option_is_reported_in_one_short_line():
    spec = ProcessorSpec(f"{PLUGINS}:LongComplaint", {"size": 7})
    message = refusal(InvalidArgument, create_processor, spec, TESTS)
    complaint = "size 7 is wrong: " + "x" * 300
    assert message == (
        f"processor '{PLUGINS}:LongComplaint' options: {complaint[:200]}..."
        f" ({len(complaint)} characters)"
    )
    assert refusal(
        InvalidArgument, create_processor, ProcessorSpec(SERVED, {"bogus": 1}), TESTS
    ) == (
        f"processor '{SERVED}' options: Served.__init__() got an unexpected keyword argument"
        " 'bogus'"
    )


def test_a_crashing_constructor_ends_the_stream_and_is_logged_with_its_traceback(caplog):
    caplog.set_level(logging.ERROR, logger=REGISTRY_LOG)
    name = f"{PLUGINS}:Crashes"
    assert refusal(Internal, create_processor, ProcessorSpec(name), TESTS) == (
        f"processor '{name}' could not be created: RuntimeError (see the server log)"
    )
    (record,) = [r for r in caplog.records if r.name == REGISTRY_LOG]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == f"processor '{name}' could not be created"
    assert record.exc_info and record.exc_info[0] is RuntimeError
    assert "index out of range in the plugin" in caplog.text


def test_a_plugin_that_exits_while_imported_ends_only_its_stream(caplog):
    caplog.set_level(logging.ERROR, logger=REGISTRY_LOG)
    name = "tests.support.exits_on_import:Anything"
    assert refusal(InvalidArgument, create_processor, ProcessorSpec(name), TESTS) == (
        f"processor '{name}' cannot be loaded: its import raised SystemExit"
    )
    (record,) = [r for r in caplog.records if r.name == REGISTRY_LOG]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == f"importing processor '{name}' failed"
    assert record.exc_info and record.exc_info[0] is SystemExit  # the traceback is logged


# --- resolving a name to a class ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "tests.no_such_module:Model",
            "processor 'tests.no_such_module:Model' cannot be loaded:"
            " \"No module named 'tests.no_such_module'\"",
        ),
        (
            f"{PLUGINS}:Nope",
            f"processor '{PLUGINS}:Nope' cannot be loaded:"
            f" \"module '{PLUGINS}' has no attribute 'Nope'\"",
        ),
        (
            f"{PLUGINS}:NOT_A_CLASS",
            f"processor '{PLUGINS}:NOT_A_CLASS' ({PLUGINS}:NOT_A_CLASS) is not a Processor"
            " subclass",
        ),
        (
            f"{PLUGINS}:Family",
            f"processor '{PLUGINS}:Family' ({PLUGINS}:Family) is not a Processor subclass",
        ),
    ],
)
def test_what_a_client_reads_when_its_processor_cannot_be_loaded(name, message):
    assert refusal(InvalidArgument, resolve_processor_class, name, TESTS) == message


def test_a_dotted_path_may_reach_a_class_inside_a_class():
    assert resolve_processor_class(f"{PLUGINS}:Family.Member", TESTS) is Family.Member


@pytest.mark.parametrize(
    ("rules", "suffix"),
    [(LoadingRules(), ""), (TESTS, " or a dotted path package.module:Class")],
)
def test_an_unknown_name_lists_the_known_ones_and_paths_when_allowed(rules, suffix):
    assert refusal(InvalidArgument, resolve_processor_class, "yolo", rules) == (
        f"unknown processor 'yolo'; known processors: colorIntensity, motion, onnx{suffix}"
    )


def test_a_refused_path_lists_the_known_processors():
    assert refusal(InvalidArgument, resolve_processor_class, "acme.net:Model", LoadingRules()) == (
        "processor 'acme.net:Model' is not allowed: this server loads no dotted paths"
        " (allowProcessorPaths=false); known processors: colorIntensity, motion, onnx"
    )


# --- processors installed as entry points ---------------------------------------------------


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A distribution on sys.path registering two processors, one under a built-in's name."""
    info = tmp_path / "acme_vision-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-vision\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[lva_extension.processors]\n"
        "colorIntensity = tests.support.processors:ChannelMeans\n"
        "acmeMeans = tests.support.processors:ChannelMeans\n"
        "[other.group]\n"
        "elsewhere = tests.support.processors:ChannelMeans\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    known_processors.cache_clear()
    try:
        yield
    finally:
        known_processors.cache_clear()


@pytest.mark.usefixtures("installed_plugin")
def test_an_installed_plugin_is_loadable_by_name_without_dotted_paths():
    known = known_processors()
    assert list(known)[:3] == ["colorIntensity", "motion", "onnx"]
    assert known["acmeMeans"] == "tests.support.processors:ChannelMeans"
    assert "elsewhere" not in known
    # A plugin cannot take a built-in's name.
    assert known["colorIntensity"] == "lva_extension.processors.color_intensity:ColorIntensity"
    assert isinstance(create_processor(ProcessorSpec("acmeMeans")), ChannelMeans)
    assert refusal(InvalidArgument, resolve_processor_class, "yolo", LoadingRules()) == (
        "unknown processor 'yolo'; known processors: acmeMeans, colorIntensity, motion, onnx"
    )


def test_the_registered_names_cannot_be_changed_by_a_caller():
    with pytest.raises(TypeError):
        known_processors()["evil"] = "os:system"
