"""How each kind of setting value is read, and the one line a wrong one stops the start with."""

from __future__ import annotations

import argparse

import pytest
from lva_extension.errors import ConfigurationError
from lva_extension.settings import (
    Binding,
    Settings,
    add_setting_flags,
    parse_binding,
    parse_module_prefixes,
)


def load(**environ: str) -> Settings:
    return Settings.load(environ=environ, env_file=None)


def refusal(**environ: str) -> str:
    with pytest.raises(ConfigurationError) as raised:
        load(**environ)
    return str(raised.value)


@pytest.mark.parametrize("text", ["1", "true", "TRUE", " yes ", "On"])
def test_words_for_true(text):
    assert load(allowProcessorPaths=text, allowedProcessorModules="my_models").allow_processor_paths


@pytest.mark.parametrize("text", ["0", "false", "False", "no", "OFF", ""])
def test_words_for_false(text):
    assert load(allowProcessorPaths=text).allow_processor_paths is False


def test_anything_else_is_not_a_boolean():
    assert refusal(allowProcessorPaths="maybe") == (
        "environment variable allowProcessorPaths: expected true or false, got 'maybe'"
    )


def test_the_message_names_where_the_value_came_from(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("batchSize=four\n")
    with pytest.raises(ConfigurationError) as raised:
        Settings.load(environ={}, env_file=env_file)
    assert str(raised.value).startswith(f"batchSize in {env_file}: invalid literal for int()")
    with pytest.raises(ConfigurationError) as raised:
        Settings.load({"batch_size": "four"}, environ={}, env_file=None)
    assert str(raised.value).startswith("--batch-size: invalid literal for int()")


def test_the_process_environment_is_read_when_none_is_given(monkeypatch):
    monkeypatch.setenv("batchSize", "6")
    assert Settings.load(env_file=None).batch_size == 6


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"batchSize": "0"}, "batchSize: expected at least 1, got 0"),
        ({"statsIntervalSeconds": "-1"}, "statsIntervalSeconds: expected 0 or more, got -1.0"),
        ({"metricsPort": "65536"}, "metricsPort: expected 0 to 65535, got 65536"),
        ({"logLevel": "LOUD"}, "logLevel: expected DEBUG or INFO or WARNING or ERROR or CRITICAL"),
        ({"defaultProcessor": " "}, "defaultProcessor: expected a name, got ''"),
        (
            {"allowProcessorPaths": "true"},
            "allowProcessorPaths: name the modules streams may load in allowedProcessorModules"
            " (e.g. my_models)",
        ),
        (
            {"allowProcessorPaths": "true", "allowedProcessorModules": "my_models,__main__"},
            "allowedProcessorModules: expected module names separated by commas"
            " (my_models,acme.vision), got '__main__'",
        ),
        (
            {"allowProcessorPaths": "true", "allowedProcessorModules": "my models"},
            "allowedProcessorModules: expected module names separated by commas"
            " (my_models,acme.vision), got 'my models'",
        ),
        (
            {"grpcBinding": "unix://relative.sock"},
            "grpcBinding: expected unix:///absolute/path, got 'unix://relative.sock'",
        ),
        (
            {"grpcBinding": "tcp://host:65536"},
            "grpcBinding: expected tcp://HOST:PORT (port 0-65535) or unix:///path,"
            " got 'tcp://host:65536'",
        ),
    ],
)
def test_a_value_that_cannot_work_stops_the_start_with_one_line(environ, message):
    assert refusal(**environ).startswith(message)


def test_bounds_are_inclusive():
    assert load(metricsPort="65535").metrics_port == 65535
    assert load(statsIntervalSeconds="0").stats_interval_seconds == 0


@pytest.mark.parametrize(
    ("text", "prefixes"),
    [
        ("my_models", ("my_models",)),
        (" my_models , acme.vision. ,", ("my_models", "acme.vision")),
        ("acme.__init__x", ("acme.__init__x",)),  # a dunder only when it ends in __ too
        ("acme._private", ("acme._private",)),
        ("acme.ModelX.", ("acme.ModelX",)),  # only the trailing dot goes
    ],
)
def test_allowed_modules_are_read_as_a_list_of_prefixes(text, prefixes):
    assert parse_module_prefixes(text) == prefixes


@pytest.mark.parametrize("text", ["acme.__main__", "__init__", "acme..x", ".acme"])
def test_dunder_and_malformed_prefixes_are_refused(text):
    with pytest.raises(ConfigurationError, match="allowedProcessorModules: expected module names"):
        parse_module_prefixes(text)


@pytest.mark.parametrize(
    ("text", "binding"),
    [
        ("tcp://:5001", Binding("tcp", "0.0.0.0", 5001, "")),
        ("tcp://[::1]:65535", Binding("tcp", "::1", 65535, "")),
        ("tcp://edge:0", Binding("tcp", "edge", 0, "")),
        ("unix:///run/lva.sock", Binding("unix", "", 0, "/run/lva.sock")),
    ],
)
def test_bindings_parse_to_their_parts(text, binding):
    assert parse_binding(text) == binding


def test_help_shows_defaults_but_never_a_secret():
    parser = argparse.ArgumentParser()
    add_setting_flags(parser)
    text = " ".join(parser.format_help().split())
    assert "[env batchSize; default 1]" in text
    assert "[env authPassword; default (secret)]" in text
    assert "[env authUsername; default ]" in text
    assert vars(parser.parse_args(["--batch-size", "3"]))["batch_size"] == "3"
    assert vars(parser.parse_args([]))["batch_size"] is None
