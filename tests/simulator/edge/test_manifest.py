"""Reading a deployment manifest as the IoT Edge agent does (lva_simulator.edge.manifest)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lva_simulator.edge.manifest import LAST, ManifestError, read_manifest

from tests.support.paths import DATA, REPO

TEMPLATE = REPO / "deployment.grpc.template.json"


def rendered(tmp_path: Path, *options: str) -> Path:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "render_deployment.py"), "--template",
         str(TEMPLATE), "--env-file", str(DATA / "deployment" / "device.env"),
         "--output-dir", str(tmp_path), *options],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return tmp_path / "deployment.grpc.amd64.json"


def write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(document))
    return path


def manifest_with(**module: Any) -> dict[str, Any]:
    spec = {"type": "docker", "settings": {"image": "localhost/x:1"}, **module}
    return {
        "modulesContent": {
            "$edgeAgent": {
                "properties.desired": {
                    "systemModules": {},
                    "modules": {"x": spec},
                }
            }
        }
    }


def test_rendered_manifest_reads_back_the_template_modules(tmp_path: Path) -> None:
    modules = {m.name: m for m in read_manifest(rendered(tmp_path))}
    template = json.loads(TEMPLATE.read_text())["modulesContent"]["$edgeAgent"]
    template_modules = template["properties.desired"]["modules"]

    assert set(modules) == {"edgeAgent", "edgeHub", "lvaEdge", "grpcExtension", "rtspsim"}
    assert modules["edgeAgent"].system and not modules["lvaEdge"].system
    assert modules["grpcExtension"].image == "contoso.azurecr.io/grpcextension:1.0.0-amd64"
    assert modules["grpcExtension"].startup_order == 2
    assert modules["grpcExtension"].restart_policy == "always"
    assert modules["grpcExtension"].env["authUsername"] == "device-user"
    # The chunks joined give back the template's createOptions (variables expanded).
    assert (
        modules["grpcExtension"].create_options
        == (template_modules["grpcExtension"]["settings"]["createOptions"])
    )
    lva = modules["lvaEdge"].create_options["HostConfig"]
    assert lva["IpcMode"] == "shareable"
    assert lva["Binds"] == [
        "/srv/lva/output:/var/media/",
        "/srv/lva/appdata:/var/lib/azuremediaservices",
    ]
    assert modules["edgeAgent"].startup_order == LAST


def test_long_create_options_are_joined_from_their_chunks(tmp_path: Path) -> None:
    options = {"Env": [f"VARIABLE_{i}={'x' * 40}" for i in range(30)]}  # over 512 characters
    text = json.dumps(options, separators=(",", ":"))
    chunks = [text[i : i + 512] for i in range(0, len(text), 512)]
    settings: dict[str, Any] = {"image": "localhost/x:1", "createOptions": chunks[0]}
    settings.update({f"createOptions{i:02d}": chunk for i, chunk in enumerate(chunks[1:], 1)})
    document = manifest_with(settings=settings)

    [module] = read_manifest(write(tmp_path, document))

    assert len(chunks) > 2
    assert module.create_options == options


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", "not a JSON deployment manifest"),
        ({"modulesContent": {}}, "expected an object at '$edgeAgent'"),
        (
            {"modulesContent": {"$edgeAgent": {"properties.desired.modules.x": {}}}},
            "a layered deployment (properties.desired.*) only adds to a base deployment",
        ),
        (manifest_with(settings={"image": "${MODULES.grpcExtension}"}), "still has a placeholder"),
        (manifest_with(settings={}), "module x: settings.image must be a string"),
        (manifest_with(restartPolicy="sometimes"), "restartPolicy must be one of never"),
        (manifest_with(status="paused"), "status must be running or stopped"),
        (manifest_with(startupOrder=-1), "startupOrder must be an integer from 0"),
        (manifest_with(env={"a": "plain"}), 'env.a must be {"value": ...}'),
        (
            manifest_with(settings={"image": "i", "createOptions": "{", "createOptions02": "}"}),
            "createOptions chunks must follow each other",
        ),
        (
            manifest_with(settings={"image": "i", "createOptions": "{", "createOptions01": "x"}),
            "createOptions is not JSON once joined",
        ),
    ],
)
def test_manifest_problems_are_one_line_naming_the_field(
    tmp_path: Path, document: Any, message: str
) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))

    with pytest.raises(ManifestError) as raised:
        read_manifest(path)

    assert message in str(raised.value)
    assert str(raised.value).startswith(str(path))
    assert "\n" not in str(raised.value)


def test_missing_manifest_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as raised:
        read_manifest(tmp_path / "config" / "deployment.grpc.amd64.json")

    assert "no such file (render it: scripts/render_deployment.py)" in str(raised.value)
