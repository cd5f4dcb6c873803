"""Docker createOptions as podman options (lva_simulator.edge.create_options)."""

from __future__ import annotations

from typing import Any

import pytest
from lva_simulator.edge.create_options import binds, container_options
from lva_simulator.edge.manifest import ManifestError


@pytest.mark.parametrize(
    ("create_options", "options"),
    [
        ({"HostConfig": {"IpcMode": "container:lvaEdge"}}, ["--ipc", "container:lvaEdge"]),
        (
            {"HostConfig": {"IpcMode": "shareable", "ShmSize": 268435456}},
            ["--ipc", "shareable", "--shm-size", "268435456"],
        ),
        ({"Env": ["A=1", "B=x=y"]}, ["--env", "A=1", "--env", "B=x=y"]),
        (
            {"HostConfig": {"Binds": ["/srv/in:/media:ro", "named:/data"]}},
            ["--volume", "/srv/in:/media:ro", "--volume", "named:/data"],
        ),
        (
            {"HostConfig": {"PortBindings": {
                "5001/tcp": [{"HostPort": "5001"}],
                "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "80"}],
            }}},
            ["--publish", "5001:5001/tcp", "--publish", "127.0.0.1:80:8080/tcp"],
        ),
        (
            {"HostConfig": {"LogConfig": {"Type": "json-file", "Config": {"max-size": "10m"}}}},
            ["--log-driver", "json-file", "--log-opt", "max-size=10m"],
        ),
        ({"Entrypoint": ["python", "-m", "x"]}, ["--entrypoint", '["python", "-m", "x"]']),
        ({"User": "1010:1010", "WorkingDir": "/app"}, ["--user", "1010:1010", "--workdir", "/app"]),
        ({"ExposedPorts": {"5001/tcp": {}}}, ["--expose", "5001/tcp"]),
        (
            {"HostConfig": {"Devices": [{"PathOnHost": "/dev/video0"}], "Privileged": True}},
            ["--device", "/dev/video0:/dev/video0:rwm", "--privileged"],
        ),
        ({"HostConfig": {"NanoCpus": 1500000000}}, ["--cpus", "1.5"]),
        (
            {"HostConfig": {"Mounts": [
                {"Type": "bind", "Source": "/s", "Target": "/t", "ReadOnly": True},
            ]}},
            ["--mount", "type=bind,target=/t,source=/s,ro"],
        ),
    ],
)  # fmt: skip
def test_fields_become_podman_options(create_options: dict[str, Any], options: list[str]) -> None:
    translated = container_options(create_options, "m")

    assert translated.options == options
    assert translated.unapplied == []


def test_cmd_goes_after_the_image_and_network_mode_replaces_the_device_network() -> None:
    translated = container_options(
        {"Cmd": ["serve", "--x"], "HostConfig": {"NetworkMode": "host"}}, "m"
    )

    assert translated.command == ["serve", "--x"]
    assert translated.network == "host"
    assert translated.options == []


def test_fields_not_applied_are_listed_by_their_dotted_names() -> None:
    translated = container_options(
        {
            "NetworkingConfig": {"EndpointsConfig": {}},
            "HostConfig": {"IpcMode": "host", "RestartPolicy": {"Name": "always"}},
        },
        "m",
    )

    assert translated.options == ["--ipc", "host"]
    assert translated.unapplied == ["NetworkingConfig", "HostConfig.RestartPolicy"]


def test_bind_sources_are_the_host_folders_only() -> None:
    create_options = {"HostConfig": {"Binds": ["/srv/a:/a", "volume:/v", "/srv/b:/b:ro"]}}

    assert container_options(create_options, "m").bind_sources == ["/srv/a", "/srv/b"]
    assert binds(create_options, "m") == [("/srv/a", "/a"), ("volume", "/v"), ("/srv/b", "/b")]


@pytest.mark.parametrize(
    ("create_options", "message"),
    [
        ({"HostConfig": []}, "m: createOptions.HostConfig: expected an object"),
        ({"Env": ["NO_EQUALS"]}, "m: createOptions.Env: expected NAME=value, got 'NO_EQUALS'"),
        ({"Env": [1]}, "m: createOptions.Env: expected a list of strings"),
        ({"HostConfig": {"ShmSize": "256m"}}, 'ShmSize: expected a whole number, got "256m"'),
        ({"HostConfig": {"Binds": ["/only-source"]}}, "expected SOURCE:TARGET[:OPTIONS]"),
        ({"HostConfig": {"IpcMode": 1}}, "HostConfig.IpcMode: expected a string, got 1"),
        ({"HostConfig": {"PortBindings": {"5001/tcp": {}}}}, "5001/tcp: expected a list of"),
        ({"HostConfig": {"Privileged": "yes"}}, "Privileged: expected true or false"),
    ],
)  # fmt: skip
def test_malformed_fields_are_one_line_naming_module_and_field(
    create_options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ManifestError) as raised:
        container_options(create_options, "m")

    assert message in str(raised.value)
