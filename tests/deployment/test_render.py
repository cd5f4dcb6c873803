"""scripts/render_deployment.py on the real template, run as users run it (a subprocess)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from tests.support.paths import REPO

RENDERER = REPO / "scripts" / "render_deployment.py"
SCHEMA = REPO / "scripts" / "deployment" / "schema" / "deployment-manifest.schema.json"
TEMPLATE = REPO / "deployment.grpc.template.json"
MODULE_DIR = REPO / "modules" / "grpcExtension"
ENV_EXAMPLE = REPO / ".env.example"
DEVICE_ENV = REPO / "tests" / "data" / "deployment" / "device.env"
TOPOLOGIES = sorted((REPO / "topologies").glob("*/topology.json"))

MIB = 1024 * 1024
# What the renderer and the docs promise: SharedMemorySizeMiB x graph instances + 64 MiB.
HEADROOM_MIB = 64
DEFAULT_GRAPH_INSTANCES = 3
MAX_CREATE_OPTIONS = 8 * 512

Json = dict[str, Any]


def package_version() -> str:
    text = (MODULE_DIR / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    assert match, "no version in modules/grpcExtension/pyproject.toml"
    return match.group(1)


def clean_environment(**extra: str) -> dict[str, str]:
    # Only what Python needs: a CONTAINER_TAG or registry variable of the caller's shell must
    # not leak into the rendering.
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **extra}


def run_renderer(
    *args: str | Path, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RENDERER), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env if env is not None else clean_environment(),
        timeout=60,
        check=False,
    )


def make_solution(
    root: Path,
    template: Json | None = None,
    env_text: str | None = None,
) -> Path:
    """A solution folder like the repository's: template, .env, modules/grpcExtension."""
    root.mkdir(parents=True, exist_ok=True)
    document = template if template is not None else load_template()
    (root / TEMPLATE.name).write_text(json.dumps(document, indent=2), encoding="utf-8")
    env = env_text if env_text is not None else DEVICE_ENV.read_text(encoding="utf-8")
    (root / ".env").write_text(env, encoding="utf-8")
    (root / "modules" / "grpcExtension").mkdir(parents=True)
    shutil.copy(MODULE_DIR / "module.json", root / "modules" / "grpcExtension" / "module.json")
    return root / TEMPLATE.name


def load_template() -> Json:
    document: Json = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    return document


def render(
    tmp_path: Path, *options: str, env: dict[str, str] | None = None
) -> tuple[Json, subprocess.CompletedProcess[str]]:
    out = tmp_path / "config"
    result = run_renderer(
        "--template", TEMPLATE, "--env-file", DEVICE_ENV, "--output-dir", out, *options, env=env
    )
    assert result.returncode == 0, result.stderr
    platform = options[options.index("--platform") + 1] if "--platform" in options else "amd64"
    manifest: Json = json.loads((out / f"deployment.grpc.{platform}.json").read_text("utf-8"))
    return manifest, result


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def agent(manifest: Json) -> Json:
    desired: Json = manifest["modulesContent"]["$edgeAgent"]["properties.desired"]
    return desired


def modules(manifest: Json) -> Json:
    found: Json = agent(manifest)["modules"]
    return found


def create_options(module: Json) -> Json:
    """Join createOptions, createOptions01, ... back into the object."""
    settings = module["settings"]
    keys = ["createOptions"] + [f"createOptions{i:02d}" for i in range(1, 8)]
    joined = "".join(settings[k] for k in keys if k in settings)
    parsed: Json = json.loads(joined)
    return parsed


def ipc_settings(module: Json) -> Json:
    host_config = create_options(module).get("HostConfig", {})
    return {k: v for k, v in host_config.items() if k in ("IpcMode", "ShmSize")}


# ---- the default output ---------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["amd64", "arm64v8"])
def test_renders_manifest_for_each_platform(tmp_path: Path, platform: str) -> None:
    manifest, result = render(tmp_path, "--platform", platform)

    written = tmp_path / "config" / f"deployment.grpc.{platform}.json"
    assert str(written) in result.stdout
    assert "$schema-template" not in manifest
    assert set(modules(manifest)) == {"lvaEdge", "grpcExtension", "rtspsim"}
    images = {name: module["settings"]["image"] for name, module in modules(manifest).items()}
    assert images == {
        "lvaEdge": "mcr.microsoft.com/media/live-video-analytics:2",
        "grpcExtension": f"contoso.azurecr.io/grpcextension:{package_version()}-{platform}",
        "rtspsim": "mcr.microsoft.com/lva-utilities/rtspsim-live555:1.2",
    }
    system = agent(manifest)["systemModules"]
    assert system["edgeAgent"]["settings"]["image"] == "mcr.microsoft.com/azureiotedge-agent:1.4"
    assert system["edgeHub"]["settings"]["image"] == "mcr.microsoft.com/azureiotedge-hub:1.4"
    assert agent(manifest)["schemaVersion"] == "1.1"
    assert manifest["modulesContent"]["$edgeHub"]["properties.desired"]["schemaVersion"] == "1.1"


def test_platform_specific_placeholder_ignores_default_platform(tmp_path: Path) -> None:
    template = load_template()
    modules(template)["grpcExtension"]["settings"]["image"] = "${MODULES.grpcExtension.arm64v8}"
    solution = make_solution(tmp_path / "solution", template)

    result = run_renderer("--template", solution, "--platform", "amd64")

    assert result.returncode == 0, result.stderr
    manifest = json.loads((solution.parent / "config" / "deployment.grpc.amd64.json").read_text())
    image = modules(manifest)["grpcExtension"]["settings"]["image"]
    assert image == f"contoso.azurecr.io/grpcextension:{package_version()}-arm64v8"


def test_container_tag_goes_before_platform(tmp_path: Path) -> None:
    env = DEVICE_ENV.read_text().replace("CONTAINER_TAG=\n", "CONTAINER_TAG=rc1\n")
    solution = make_solution(tmp_path / "solution", env_text=env)

    result = run_renderer("--template", solution)

    assert result.returncode == 0, result.stderr
    manifest = json.loads((solution.parent / "config" / "deployment.grpc.amd64.json").read_text())
    image = modules(manifest)["grpcExtension"]["settings"]["image"]
    assert image == f"contoso.azurecr.io/grpcextension:{package_version()}-rc1-amd64"


def test_registry_server_is_lower_cased_in_image(tmp_path: Path) -> None:
    env = DEVICE_ENV.read_text().replace("contoso.azurecr.io", "Contoso.azurecr.io")
    solution = make_solution(tmp_path / "solution", env_text=env)

    result = run_renderer("--template", solution)

    assert result.returncode == 0, result.stderr
    manifest = json.loads((solution.parent / "config" / "deployment.grpc.amd64.json").read_text())
    assert modules(manifest)["grpcExtension"]["settings"]["image"].startswith("contoso.azurecr.io/")


def test_variables_are_expanded_from_env_file(tmp_path: Path) -> None:
    manifest, _ = render(tmp_path)

    lva_twin = manifest["modulesContent"]["lvaEdge"]["properties.desired"]
    assert lva_twin["azureMediaServicesArmId"] == (
        "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/video-rg"
        "/providers/microsoft.media/mediaservices/videoams"
    )
    assert lva_twin["allowUnsecuredEndpoints"] == "true"
    assert agent(manifest)["runtime"]["settings"]["registryCredentials"] == {
        "solutionRegistry": {
            "username": "contoso",
            "password": "registry-secret",
            "address": "contoso.azurecr.io",
        }
    }
    env = {k: v["value"] for k, v in modules(manifest)["grpcExtension"]["env"].items()}
    assert env == {
        "grpcBinding": "tcp://0.0.0.0:5001",
        "batchSize": "4",
        "defaultProcessor": "colorIntensity",
        "authUsername": "device-user",
        "authPassword": "device-password",
        "logLevel": "DEBUG",
    }
    binds = create_options(modules(manifest)["lvaEdge"])["HostConfig"]["Binds"]
    assert binds == [
        "/srv/lva/output:/var/media/",
        "/srv/lva/appdata:/var/lib/azuremediaservices",
    ]
    routes = manifest["modulesContent"]["$edgeHub"]["properties.desired"]["routes"]
    assert routes == {"LVAToHub": "FROM /messages/modules/lvaEdge/outputs/* INTO $upstream"}


def test_values_with_quotes_and_backslashes_stay_valid_json(tmp_path: Path) -> None:
    password = 'p"a\\ss$word'
    env = DEVICE_ENV.read_text().replace(
        "GRPC_EXTENSION_PASSWORD=device-password", f"GRPC_EXTENSION_PASSWORD='{password}'"
    )
    solution = make_solution(tmp_path / "solution", env_text=env)

    result = run_renderer("--template", solution)

    assert result.returncode == 0, result.stderr
    manifest = json.loads((solution.parent / "config" / "deployment.grpc.amd64.json").read_text())
    assert modules(manifest)["grpcExtension"]["env"]["authPassword"]["value"] == password


def test_output_is_valid_against_the_schema_and_iot_edge_rules(tmp_path: Path) -> None:
    manifest, _ = render(tmp_path)

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert list(Draft7Validator(schema).iter_errors(manifest)) == []
    # The rules of IOTEDGE.md, checked directly as well.
    assert set(manifest["modulesContent"]) >= {"$edgeAgent", "$edgeHub"}
    runtime = agent(manifest)["runtime"]
    assert runtime["type"] == "docker"
    assert set(runtime["settings"]) <= {"minDockerVersion", "loggingOptions", "registryCredentials"}
    for name, credentials in runtime["settings"]["registryCredentials"].items():
        assert re.fullmatch(r"[^.$# ]+", name)
        assert set(credentials) == {"username", "password", "address"}
    for name, module in modules(manifest).items():
        assert re.fullmatch(r"[a-zA-Z0-9_-]+", name)
        assert module["type"] == "docker"
        assert module["status"] in ("running", "stopped")
        assert module["restartPolicy"] in ("never", "on-failure", "on-unhealthy", "always")
        assert module["settings"]["image"]
    for module in [*modules(manifest).values(), *agent(manifest)["systemModules"].values()]:
        chunks = [v for k, v in module["settings"].items() if k.startswith("createOptions")]
        assert chunks
        assert all(isinstance(chunk, str) and len(chunk) <= 512 for chunk in chunks)
    hub = manifest["modulesContent"]["$edgeHub"]["properties.desired"]
    assert isinstance(hub["storeAndForwardConfiguration"]["timeToLiveSecs"], int)


def test_grpc_extension_starts_after_lva_and_restarts_always(tmp_path: Path) -> None:
    manifest, _ = render(tmp_path)

    extension, lva = modules(manifest)["grpcExtension"], modules(manifest)["lvaEdge"]
    assert extension["restartPolicy"] == "always"
    assert extension["startupOrder"] > lva["startupOrder"]
    log_config = create_options(lva)["HostConfig"]["LogConfig"]
    assert log_config["Config"] == {"max-size": "10m", "max-file": "10"}


# ---- createOptions ----------------------------------------------------------------------------


def template_with_create_options_length(length: int) -> Json:
    """The real template, with rtspsim's createOptions grown to `length` compact characters."""
    template = load_template()
    options = modules(template)["rtspsim"]["settings"]["createOptions"]
    options["HostConfig"]["Binds"] = ["/videos:/live/mediaServer/media"]  # no variable
    options["Labels"] = {"padding": ""}
    base = len(json.dumps(options, separators=(",", ":")))
    assert length >= base
    options["Labels"]["padding"] = "x" * (length - base)
    return template


@pytest.mark.parametrize(
    ("length", "expected_keys"),
    [
        (512, ["createOptions"]),
        (513, ["createOptions", "createOptions01"]),
        (1300, ["createOptions", "createOptions01", "createOptions02"]),
        (MAX_CREATE_OPTIONS, ["createOptions"] + [f"createOptions0{i}" for i in range(1, 8)]),
    ],
)
def test_create_options_split_into_512_character_chunks(
    tmp_path: Path, length: int, expected_keys: list[str]
) -> None:
    template = template_with_create_options_length(length)
    solution = make_solution(tmp_path / "solution", template)

    result = run_renderer("--template", solution)

    assert result.returncode == 0, result.stderr
    manifest = json.loads((solution.parent / "config" / "deployment.grpc.amd64.json").read_text())
    settings = modules(manifest)["rtspsim"]["settings"]
    chunk_keys = [k for k in settings if k.startswith("createOptions")]
    assert chunk_keys == expected_keys
    assert all(len(settings[k]) == 512 for k in chunk_keys[:-1])
    joined = "".join(settings[k] for k in chunk_keys)
    assert len(joined) == length
    expected = modules(template)["rtspsim"]["settings"]["createOptions"]
    assert joined == json.dumps(expected, separators=(",", ":"))


def test_create_options_over_4_kib_is_an_error(tmp_path: Path) -> None:
    solution = make_solution(
        tmp_path / "solution", template_with_create_options_length(MAX_CREATE_OPTIONS + 1)
    )

    result = run_renderer("--template", solution)

    assert_one_line_error(result, "rtspsim", "createOptions", "4096")
    assert not (solution.parent / "config").exists()


def test_create_options_already_a_string_is_kept(tmp_path: Path) -> None:
    template = load_template()
    as_written = '{ "HostConfig": { "Privileged": false } }'
    modules(template)["rtspsim"]["settings"]["createOptions"] = as_written
    solution = make_solution(tmp_path / "solution", template)

    result = run_renderer("--template", solution)

    assert result.returncode == 0, result.stderr
    manifest = json.loads((solution.parent / "config" / "deployment.grpc.amd64.json").read_text())
    assert modules(manifest)["rtspsim"]["settings"]["createOptions"] == as_written


# ---- strictness: unset variables, unresolved placeholders, platforms ---------------------------


@pytest.mark.parametrize(
    "variable",
    [
        "AMS_ACCOUNT",
        "GRPC_EXTENSION_PASSWORD",
        "VIDEO_INPUT_FOLDER_ON_DEVICE",
        "CONTAINER_REGISTRY_SERVER",
    ],
)
def test_unset_variable_is_an_error_naming_it(tmp_path: Path, variable: str) -> None:
    env = "".join(
        line
        for line in DEVICE_ENV.read_text().splitlines(keepends=True)
        if not line.startswith(f"{variable}=")
    )
    solution = make_solution(tmp_path / "solution", env_text=env)

    result = run_renderer("--template", solution)

    assert_one_line_error(result, variable, "not set")
    assert not (solution.parent / "config").exists()


def test_variable_from_environment_counts_as_set(tmp_path: Path) -> None:
    env = DEVICE_ENV.read_text().replace("AMS_ACCOUNT=videoams\n", "")
    solution = make_solution(tmp_path / "solution", env_text=env)

    result = run_renderer("--template", solution, env=clean_environment(AMS_ACCOUNT="fromshell"))

    assert result.returncode == 0, result.stderr
    manifest = json.loads((solution.parent / "config" / "deployment.grpc.amd64.json").read_text())
    arm_id = manifest["modulesContent"]["lvaEdge"]["properties.desired"]["azureMediaServicesArmId"]
    assert arm_id.endswith("/mediaservices/fromshell")


@pytest.mark.parametrize(
    ("precedence", "expected"), [("file", "Information"), ("environment", "Verbose")]
)
def test_env_precedence(tmp_path: Path, precedence: str, expected: str) -> None:
    manifest, _ = render(
        tmp_path,
        "--env-precedence",
        precedence,
        env=clean_environment(LVA_LOG_LEVEL="Verbose"),
    )

    assert manifest["modulesContent"]["lvaEdge"]["properties.desired"]["logLevel"] == expected


@pytest.mark.parametrize(
    ("image", "named"),
    [
        ("${MODULES.grpcExtension.arm32v7}", "arm32v7"),
        ("${MODULES.noSuchModule}", "noSuchModule"),
        ("${UNKNOWN-PLACEHOLDER}", "${UNKNOWN-PLACEHOLDER}"),
        ("$UNDEFINED_REGISTRY/grpcextension:1.0.0", "UNDEFINED_REGISTRY"),
    ],
)
def test_unresolved_placeholder_is_an_error_naming_it(
    tmp_path: Path, image: str, named: str
) -> None:
    template = load_template()
    modules(template)["grpcExtension"]["settings"]["image"] = image
    solution = make_solution(tmp_path / "solution", template)

    result = run_renderer("--template", solution)

    assert_one_line_error(result, named)
    assert not (solution.parent / "config").exists()


def test_platform_missing_from_module_json_is_an_error(tmp_path: Path) -> None:
    result = run_renderer(
        "--template", TEMPLATE, "--env-file", DEVICE_ENV, "--output-dir", tmp_path, "--platform",
        "arm32v7",
    )  # fmt: skip

    assert_one_line_error(result, "arm32v7", "modules/grpcExtension/module.json", "amd64, arm64v8")
    assert list(tmp_path.iterdir()) == []


def test_missing_default_env_file_points_at_the_example(tmp_path: Path) -> None:
    solution = make_solution(tmp_path / "solution")
    (solution.parent / ".env").unlink()

    result = run_renderer("--template", solution)

    assert_one_line_error(result, ".env", ".env.example")


def test_template_that_is_not_json_is_an_error(tmp_path: Path) -> None:
    solution = make_solution(tmp_path / "solution")
    solution.write_text('{"modulesContent": ', encoding="utf-8")

    result = run_renderer("--template", solution)

    assert_one_line_error(result, "not valid JSON")


# ---- schema violations -----------------------------------------------------------------------


def set_module_key(key: str, value: Any) -> Callable[[Json], None]:
    def mutate(template: Json) -> None:
        modules(template)["grpcExtension"][key] = value

    return mutate


def rename_module(new_name: str) -> Callable[[Json], None]:
    def mutate(template: Json) -> None:
        modules(template)[new_name] = modules(template).pop("rtspsim")

    return mutate


def set_ttl_to_string(template: Json) -> None:
    hub = template["modulesContent"]["$edgeHub"]["properties.desired"]
    hub["storeAndForwardConfiguration"]["timeToLiveSecs"] = "7200"


def add_runtime_setting(template: Json) -> None:
    agent(template)["runtime"]["settings"]["registryUrl"] = "contoso.azurecr.io"


def rename_registry_credentials(template: Json) -> None:
    credentials = agent(template)["runtime"]["settings"]["registryCredentials"]
    credentials["contoso.azurecr.io"] = credentials.pop("solutionRegistry")


def drop_edge_hub(template: Json) -> None:
    del template["modulesContent"]["$edgeHub"]


def drop_image(template: Json) -> None:
    del modules(template)["rtspsim"]["settings"]["image"]


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (set_module_key("restartPolicy", "sometimes"), "restartPolicy"),
        (set_module_key("status", "paused"), "status"),
        (set_module_key("imagePullPolicy", "always"), "imagePullPolicy"),
        (set_module_key("startupOrder", -1), "startupOrder"),
        (set_module_key("type", "podman"), "type"),
        (rename_module("rtsp sim"), "'rtsp sim' is not a module name"),
        (set_ttl_to_string, "timeToLiveSecs"),
        (add_runtime_setting, "registryUrl"),
        (rename_registry_credentials, "registry credential name"),
        (drop_edge_hub, "$edgeHub"),
        (drop_image, "'image' is a required property"),
    ],
)
def test_schema_violation_is_an_error_naming_it(
    tmp_path: Path, mutate: Callable[[Json], None], named: str
) -> None:
    template = load_template()
    mutate(template)
    solution = make_solution(tmp_path / "solution", template)

    result = run_renderer("--template", solution)

    assert_one_line_error(result, "schema", named)
    assert not (solution.parent / "config").exists()


def test_empty_registry_server_gives_an_invalid_image_error(tmp_path: Path) -> None:
    env = DEVICE_ENV.read_text().replace(
        "CONTAINER_REGISTRY_SERVER=contoso.azurecr.io", "CONTAINER_REGISTRY_SERVER="
    )
    solution = make_solution(tmp_path / "solution", env_text=env)

    result = run_renderer("--template", solution)

    assert_one_line_error(result, "image", "/grpcextension:", "CONTAINER_REGISTRY_SERVER")


# ---- transfer mode and IPC layout --------------------------------------------------------------

TEMPLATE_SHM_SIZE = (64 * DEFAULT_GRAPH_INSTANCES + HEADROOM_MIB) * MIB


@pytest.mark.parametrize(
    ("options", "lva_ipc", "extension_ipc"),
    [
        (
            (),
            {"IpcMode": "shareable", "ShmSize": TEMPLATE_SHM_SIZE},
            {"IpcMode": "container:lvaEdge"},
        ),
        (
            ("--transfer-mode", "shared-memory"),
            {"IpcMode": "shareable", "ShmSize": TEMPLATE_SHM_SIZE},
            {"IpcMode": "container:lvaEdge"},
        ),
        (("--transfer-mode", "shared-memory-host"), {"IpcMode": "host"}, {"IpcMode": "host"}),
        (("--transfer-mode", "embedded"), {}, {}),
    ],
    ids=["template", "shared-memory", "shared-memory-host", "embedded"],
)
def test_transfer_mode_sets_ipc_layout(
    tmp_path: Path, options: tuple[str, ...], lva_ipc: Json, extension_ipc: Json
) -> None:
    manifest, _ = render(tmp_path, *options)

    assert ipc_settings(modules(manifest)["lvaEdge"]) == lva_ipc
    assert ipc_settings(modules(manifest)["grpcExtension"]) == extension_ipc
    assert ipc_settings(modules(manifest)["rtspsim"]) == {}
    # The other HostConfig settings survive.
    assert "Binds" in create_options(modules(manifest)["lvaEdge"])["HostConfig"]
    assert "LogConfig" in create_options(modules(manifest)["grpcExtension"])["HostConfig"]


@pytest.mark.parametrize(("mib", "instances"), [(64, 1), (300, 2), (1024, 4)])
def test_shm_size_holds_every_graph_instance_plus_headroom(
    tmp_path: Path, mib: int, instances: int
) -> None:
    manifest, _ = render(
        tmp_path,
        "--transfer-mode",
        "shared-memory",
        "--shared-memory-mib",
        str(mib),
        "--graph-instances",
        str(instances),
    )

    shm_size = ipc_settings(modules(manifest)["lvaEdge"])["ShmSize"]
    assert shm_size == (mib * instances + HEADROOM_MIB) * MIB
    assert shm_size >= mib * instances * MIB


@pytest.mark.parametrize("topology", TOPOLOGIES, ids=lambda path: path.parent.name)
def test_template_shm_size_fits_the_topologies_shared_memory(
    tmp_path: Path, topology: Path
) -> None:
    manifest, _ = render(tmp_path)
    shm_size = ipc_settings(modules(manifest)["lvaEdge"])["ShmSize"]

    for node in json.loads(topology.read_text())["properties"]["processors"]:
        transfer = node.get("dataTransfer", {})
        if transfer.get("mode") == "sharedMemory":
            needed = int(transfer["SharedMemorySizeMiB"]) * DEFAULT_GRAPH_INSTANCES + HEADROOM_MIB
            assert shm_size >= needed * MIB


def test_transfer_mode_names_missing_module(tmp_path: Path) -> None:
    result = run_renderer(
        "--template", TEMPLATE, "--env-file", DEVICE_ENV, "--output-dir", tmp_path,
        "--transfer-mode", "embedded", "--lva-module", "lvaEdgeModule",
    )  # fmt: skip

    assert_one_line_error(result, "lvaEdgeModule")


@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_shared_memory_size_must_be_positive(tmp_path: Path, value: str) -> None:
    result = run_renderer(
        "--template", TEMPLATE, "--env-file", DEVICE_ENV, "--output-dir", tmp_path,
        "--transfer-mode", "shared-memory", "--shared-memory-mib", value,
    )  # fmt: skip

    assert_one_line_error(result, "--shared-memory-mib", value)


# ---- at-scale (layered) deployment ---------------------------------------------------------


def render_layered(tmp_path: Path, *options: str) -> tuple[Json, Json, str]:
    manifest, result = render(
        tmp_path, "--layered", "--target-condition", "tags.lva='true'", *options
    )
    layered_path = tmp_path / "config" / "deployment.grpc.amd64.layered.json"
    layered: Json = json.loads(layered_path.read_text(encoding="utf-8"))
    return manifest, layered, result.stdout


def test_layered_deployment_holds_user_modules_routes_and_twins(tmp_path: Path) -> None:
    manifest, layered, _ = render_layered(tmp_path, "--priority", "20")

    assert layered["targetCondition"] == "tags.lva='true'"
    assert layered["priority"] == 20
    content = layered["content"]["modulesContent"]
    expected_agent = {
        f"properties.desired.modules.{name}": module for name, module in modules(manifest).items()
    }
    expected_agent["properties.desired.runtime.settings.registryCredentials.solutionRegistry"] = (
        agent(manifest)["runtime"]["settings"]["registryCredentials"]["solutionRegistry"]
    )
    assert content["$edgeAgent"] == expected_agent
    route = "FROM /messages/modules/lvaEdge/outputs/* INTO $upstream"
    assert content["$edgeHub"] == {"properties.desired.routes.LVAToHub": route}
    assert content["lvaEdge"] == manifest["modulesContent"]["lvaEdge"]
    assert "systemModules" not in json.dumps(layered)
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    entry = {"$ref": "#/definitions/layeredDeployment", "definitions": schema["definitions"]}
    assert list(Draft7Validator(entry).iter_errors(layered)) == []


def test_layered_deployment_prints_the_az_command(tmp_path: Path) -> None:
    _, layered, stdout = render_layered(tmp_path, "--deployment-id", "lva-grpc-v1")

    command = next(line for line in stdout.splitlines() if line.startswith("az "))
    assert command.startswith("az iot edge deployment create --layered ")
    assert "--deployment-id lva-grpc-v1" in command
    assert f"--content {tmp_path / 'config' / 'deployment.grpc.amd64.layered.json'}" in command
    assert "--target-condition \"tags.lva='true'\"" in command
    assert command.endswith("--priority 10")
    assert layered["id"] == "lva-grpc-v1"


def test_default_deployment_id_changes_with_the_content(tmp_path: Path) -> None:
    _, first, _ = render_layered(tmp_path / "a")
    _, same, _ = render_layered(tmp_path / "b")
    _, other, _ = render_layered(tmp_path / "c", "--transfer-mode", "embedded")

    assert re.fullmatch(r"deployment-grpc-amd64-[0-9a-f]{8}", first["id"])
    assert same["id"] == first["id"]
    assert other["id"] != first["id"]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ((), "--target-condition"),
        (
            ("--target-condition", "tags.lva='true'", "--deployment-id", "My Deployment"),
            "My Deployment",
        ),
        (("--target-condition", "tags.lva='true'", "--priority", "-1"), "--priority"),
    ],
)
def test_layered_deployment_option_errors(
    tmp_path: Path, options: tuple[str, ...], named: str
) -> None:
    result = run_renderer(
        "--template", TEMPLATE, "--env-file", DEVICE_ENV, "--output-dir", tmp_path, "--layered",
        *options,
    )  # fmt: skip

    assert_one_line_error(result, named)


def deploy_section() -> str:
    """The README's "Deploy to a device" section."""
    for path in (REPO / "README.md",):
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        start = text.find("## Deploy to a device")
        if start >= 0:
            end = text.find("\n## ", start + 1)
            return text[start : end if end >= 0 else len(text)]
    raise AssertionError("no 'Deploy to a device' section in README.md")


def test_every_option_is_documented_for_users() -> None:
    help_text = run_renderer("--help").stdout
    options = set(re.findall(r"(--[a-z][a-z-]+)", help_text)) - {"--help"}
    section = deploy_section()

    assert options
    assert sorted(option for option in options if option not in section) == []
    for mode in ("shared-memory", "shared-memory-host", "embedded", "container:lvaEdge"):
        assert mode in section


def test_help_documents_every_option() -> None:
    result = run_renderer("--help")

    assert result.returncode == 0
    for option in [
        "--template",
        "--env-file",
        "--platform",
        "--output-dir",
        "--transfer-mode",
        "shared-memory-host",
        "embedded",
        "--shared-memory-mib",
        "--graph-instances",
        "--layered",
        "--target-condition",
        "--priority",
        "--deployment-id",
    ]:
        assert option in result.stdout


# ---- .env.example ------------------------------------------------------------------------------

REFERENCE = re.compile(r"\$(\w+|\{[^}]*\})", re.ASCII)
NOT_VARIABLES = {"edgeAgent", "edgeHub", "upstream", "schema"}
# Read by the tools (not the template): the IoT Hub for deployments, the image tag suffix.
TOOL_VARIABLES = {"IOTHUB_CONNECTION_STRING", "CONTAINER_TAG"}


def variables_used(*paths: Path) -> set[str]:
    names = set()
    for path in paths:
        for match in REFERENCE.finditer(path.read_text(encoding="utf-8")):
            name = match.group(1).strip("{}")
            if name not in NOT_VARIABLES and not name.startswith("MODULES."):
                names.add(name)
    return names


def env_example_entries() -> list[tuple[int, str, str]]:
    entries = []
    for number, line in enumerate(ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()):
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            entries.append((number, name, value))
    return entries


def test_env_example_lists_exactly_the_variables_used() -> None:
    used = variables_used(TEMPLATE, MODULE_DIR / "module.json")
    listed = {name for _, name, _ in env_example_entries()}

    assert used - listed == set(), "used but not in .env.example"
    assert listed - used - TOOL_VARIABLES == set(), "in .env.example but unused"


def test_env_example_explains_every_variable() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for number, name, _ in env_example_entries():
        # A variable follows its comment, or another variable of the same commented group.
        previous = number - 1
        while previous >= 0 and lines[previous] and not lines[previous].startswith("#"):
            previous -= 1
        assert previous >= 0, name
        assert lines[previous].startswith("#"), f"{name} has no comment above it"


def test_env_example_leaves_iothub_connection_string_empty() -> None:
    values = {name: value for _, name, value in env_example_entries()}

    assert values["IOTHUB_CONNECTION_STRING"] == ""


def test_env_example_renders(tmp_path: Path) -> None:
    result = run_renderer(
        "--template", TEMPLATE, "--env-file", ENV_EXAMPLE, "--output-dir", tmp_path
    )

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "deployment.grpc.amd64.json").is_file()


# ---- the same output as iotedgedev ---------------------------------------------------------


def iotedgedev_executable() -> Path:
    found = Path(sys.executable).parent / "iotedgedev"
    if not found.exists():
        which = shutil.which("iotedgedev")
        assert which, "iotedgedev is not installed: pip install -r requirements-dev.txt"
        found = Path(which)
    return found


def run_iotedgedev(solution: Path, platform: str, home: Path) -> Json:
    # Offline: telemetry off, and its schema download sent to a closed loopback port (it then
    # skips that validation and says so).
    (home / ".iotedgedev").mkdir(parents=True)
    (home / ".iotedgedev" / "setting.ini").write_text(
        "[DEFAULT]\nfirsttime = no\ncollect_telemetry = no\n", encoding="utf-8"
    )
    proxy = "http://127.0.0.1:9"
    env = clean_environment(
        HOME=str(home), http_proxy=proxy, https_proxy=proxy, HTTP_PROXY=proxy, HTTPS_PROXY=proxy
    )
    result = subprocess.run(
        [
            str(iotedgedev_executable()),
            "solution",
            "genconfig",
            "-f",
            solution.name,
            "-P",
            platform,
        ],
        capture_output=True,
        text=True,
        cwd=solution.parent,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = solution.parent / "config" / f"deployment.grpc.{platform}.json"
    document: Json = json.loads(output.read_text(encoding="utf-8"))
    return document


@pytest.mark.parametrize(
    ("platform", "container_tag"), [("amd64", ""), ("arm64v8", ""), ("amd64", "rc1")]
)
def test_default_output_equals_iotedgedev_genconfig(
    tmp_path: Path, platform: str, container_tag: str
) -> None:
    env = DEVICE_ENV.read_text().replace("CONTAINER_TAG=\n", f"CONTAINER_TAG={container_tag}\n")
    theirs_solution = make_solution(tmp_path / "theirs", env_text=env)
    ours_solution = make_solution(tmp_path / "ours", env_text=env)

    theirs = run_iotedgedev(theirs_solution, platform, tmp_path / "home")
    result = run_renderer("--template", ours_solution, "--platform", platform)

    assert result.returncode == 0, result.stderr
    ours_path = ours_solution.parent / "config" / f"deployment.grpc.{platform}.json"
    assert json.loads(ours_path.read_text(encoding="utf-8")) == theirs


def test_iotedgedev_comparison_is_sensitive(tmp_path: Path) -> None:
    # Guards the test above: a transfer mode changes the output, so equality there means
    # something.
    theirs = run_iotedgedev(make_solution(tmp_path / "theirs"), "amd64", tmp_path / "home")
    ours, _ = render(tmp_path, "--transfer-mode", "embedded")

    assert ours != theirs
    assert ours["modulesContent"]["$edgeHub"] == theirs["modulesContent"]["$edgeHub"]
