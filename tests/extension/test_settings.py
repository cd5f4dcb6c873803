"""One settings object: CLI flags over environment over .env over defaults."""

from __future__ import annotations

import argparse
import dataclasses

import pytest
from lva_extension.errors import ConfigurationError
from lva_extension.settings import Settings, add_setting_flags, parse_binding


def flags(*argv: str) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    add_setting_flags(parser)
    return vars(parser.parse_args(argv))


def test_defaults_are_those_of_the_design(tmp_path):
    settings = Settings.load(environ={}, env_file=tmp_path / "missing.env")
    assert settings.grpc_binding == "tcp://0.0.0.0:5001"
    assert (settings.batch_size, settings.batch_timeout_ms) == (1, 50.0)
    assert settings.max_message_size_mib == 64
    assert settings.default_processor == "colorIntensity"
    assert settings.log_level == "INFO"


def test_flags_beat_environment_beat_dotenv(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("batchSize=3\nbatchTimeoutMs=70\nmaxMessageSizeMiB=8\nlogLevel=DEBUG\n")
    environ = {"batchSize": "5", "batchTimeoutMs": "80"}

    settings = Settings.load(flags("--batch-size", "7"), environ, env_file)

    assert settings.batch_size == 7  # flag
    assert settings.batch_timeout_ms == 80.0  # environment
    assert settings.max_message_size_mib == 8  # .env
    assert settings.log_level == "DEBUG"
    assert settings.max_message_bytes == 8 * 1024 * 1024


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"batchSize": "0"}, "batchSize: expected at least 1, got 0"),
        ({"batchSize": "four"}, "environment variable batchSize: invalid literal"),
        ({"maxMessageSizeMiB": "4096"}, "maxMessageSizeMiB: expected 1 to 2047"),
        ({"logLevel": "LOUD"}, "logLevel: expected DEBUG or INFO"),
        ({"grpcBinding": "0.0.0.0:5001"}, "grpcBinding: expected tcp://HOST:PORT"),
        ({"grpcBinding": "tcp://host:99999"}, "grpcBinding: expected tcp://HOST:PORT"),
        ({"allowProcessorPaths": "maybe"}, "expected true or false"),
    ],
)
def test_bad_values_name_the_variable(tmp_path, environ, message):
    with pytest.raises(ConfigurationError, match=message):
        Settings.load(environ=environ, env_file=None)


@pytest.mark.parametrize(
    ("text", "address", "client"),
    [
        ("tcp://0.0.0.0:5001", "0.0.0.0:5001", "127.0.0.1:5001"),
        ("tcp://127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"),
        ("tcp://[::]:5001", "[::]:5001", "[::1]:5001"),
        ("tcp://grpcextension:5001", "grpcextension:5001", "grpcextension:5001"),
        ("unix:///tmp/lva.sock", "unix:///tmp/lva.sock", "unix:///tmp/lva.sock"),
    ],
)
def test_bindings(text, address, client):
    binding = parse_binding(text)
    assert binding.address == address
    assert binding.client_address == client


def test_every_setting_has_a_flag_and_secrets_stay_out_of_repr():
    parser = argparse.ArgumentParser()
    add_setting_flags(parser)
    text = " ".join(parser.format_help().split())
    for f in dataclasses.fields(Settings):
        assert f"--{f.name.replace('_', '-')}" in text
        assert f"env {f.metadata['env']};" in text
    settings = Settings(auth_username="operator", auth_password="s3cret-Pa55")
    assert "s3cret-Pa55" not in repr(settings)
    assert "s3cret-Pa55" not in str(settings)
    assert "s3cret-Pa55" not in text
    assert "operator" in repr(settings)  # only secrets are hidden
