"""Mutation testing of the core modules with mutmut (scripts/mutation.sh runs this).

Each module is tested in a staging copy of the repository of its own, with its
own pool of fast, in-process test files (MODULES below): mutmut first runs the
pool once to learn which tests reach which function, then runs, for every
mutant, only the tests that reach the mutated function, each mutant with a
timeout scaled to those tests' measured time. The worktree is never modified.

A module's score is the share of its non-equivalent mutants that the tests
kill. Mutants that no test could kill (equivalent, or unobservable) are listed,
each with a one-line reason, in equivalent.txt beside this file; they are not
counted. The run fails when a module scores below its floor.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
EQUIVALENT = HERE / "equivalent.txt"
PACKAGES = {
    "lva_extension": REPO / "modules" / "grpcExtension" / "src" / "lva_extension",
    "lva_simulator": REPO / "simulator" / "src" / "lva_simulator",
}
# mutmut's exit codes -> what they mean here (mutmut.stats.status_by_exit_code).
KILLED = {1, 3, 24, -24, 152, 255, 36, 37, -11, -9}  # failed, timed out, type check, crashed
NOT_RUN = {None, 2, 34}  # not checked, interrupted, skipped


@dataclass(frozen=True)
class Module:
    sources: tuple[str, ...]  # files under src/ (mutmut's only_mutate patterns)
    tests: tuple[str, ...]  # the test files whose tests may kill its mutants
    floor: float = 90.0  # the lowest score (per cent) the run accepts


STREAM_TESTS = (
    "tests/extension/stream/test_conversation_in_process.py",
    "tests/extension/stream/test_conversation.py",
    "tests/extension/stream/test_limits.py",
    "tests/extension/stream/test_limits_rules.py",
    "tests/extension/stream/test_intake.py",
    "tests/extension/stream/test_media_stream.py",
    "tests/extension/stream/test_runners.py",
    "tests/extension/stream/test_batching.py",
    "tests/extension/stream/test_cascade.py",
    "tests/extension/stream/test_hostile_input.py",
)


def _stream(name: str, *more: str) -> Module:
    return Module((f"src/lva_extension/stream/{name}.py",), STREAM_TESTS + more)


MODULES: dict[str, Module] = {
    "stream.conversation": _stream("conversation"),
    "stream.intake": _stream("intake"),
    "stream.media_stream": _stream("media_stream"),
    "stream.limits": _stream("limits"),
    "stream.batching": Module(
        ("src/lva_extension/stream/batching.py",),
        ("tests/extension/stream/test_batcher.py", "tests/extension/stream/test_batching.py"),
    ),
    "stream.pipeline": _stream(
        "pipeline",
        "tests/extension/stream/test_resilience.py",
        "tests/extension/stream/test_pipeline.py",
    ),
    "stream.runners": _stream("runners", "tests/extension/stream/test_resilience.py"),
    "transports": Module(
        ("src/lva_extension/transports/*",),
        (
            "tests/extension/transports/test_transports.py",
            "tests/extension/transports/test_shared_memory_rules.py",
            "tests/extension/stream/test_conversation.py",
        ),
    ),
    "frames": Module(
        ("src/lva_extension/frames/*",),
        (
            "tests/extension/frames/test_frames.py",
            "tests/extension/frames/test_frame_rules.py",
            "tests/extension/frames/test_pixel_formats.py",
            "tests/extension/processors/test_onnx.py",
        ),
    ),
    "settings": Module(
        ("src/lva_extension/settings.py",),
        (
            "tests/extension/test_settings.py",
            "tests/extension/test_settings_values.py",
            "tests/test_readme.py",
        ),
    ),
    "server.auth": Module(
        ("src/lva_extension/server/auth.py",),
        ("tests/extension/server/test_auth_in_process.py",),
    ),
    "processors.registry": Module(
        ("src/lva_extension/processors/registry.py",),
        (
            "tests/extension/processors/test_registry.py",
            "tests/extension/processors/test_registry_messages.py",
            "tests/extension/processors/test_rules.py",
            "tests/extension/processors/test_motion.py",
            "tests/extension/processors/test_onnx.py",
        ),
    ),
    "processors.rules": Module(
        ("src/lva_extension/processors/rules.py",),
        (
            "tests/extension/processors/test_rules.py",
            "tests/extension/processors/test_registry.py",
        ),
    ),
    "files": Module(
        ("src/lva_extension/files.py",),
        ("tests/extension/test_files.py", "tests/extension/processors/test_onnx.py"),
    ),
    "simulator.topology": Module(
        ("src/lva_simulator/module/topology.py",),
        (
            "tests/simulator/test_topology_checks.py",
            "tests/simulator/test_topology_rules.py",
            "tests/simulator/test_methods.py",
        ),
    ),
    "simulator.gate_timing": Module(
        ("src/lva_simulator/graph/gate_timing.py",), ("tests/simulator/test_gate_timing.py",)
    ),
}


@dataclass
class Mutant:
    name: str  # mutmut's, e.g. lva_extension.stream.limits.xǁByteBudgetǁacquire__mutmut_3
    path: str  # src/lva_extension/stream/limits.py
    function: str  # ByteBudget.acquire
    exit_code: int | None
    removed: tuple[str, ...] = ()  # the lines the mutation changes, stripped
    added: tuple[str, ...] = ()

    @property
    def killed(self) -> bool:
        return self.exit_code in KILLED

    def key(self) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
        return (self.path.removeprefix("src/"), self.function, self.removed, self.added)

    def describe(self) -> str:
        change = " / ".join(
            [*(f"- {line}" for line in self.removed), *(f"+ {line}" for line in self.added)]
        )
        return f"{self.function}: {change}"


@dataclass
class Equivalent:
    path: str
    function: str
    removed: tuple[str, ...]
    added: tuple[str, ...]
    why: str
    line: int
    used: bool = field(default=False)

    def key(self) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
        return (self.path, self.function, self.removed, self.added)


def read_equivalents(path: Path = EQUIVALENT) -> list[Equivalent]:
    """Blocks separated by blank lines: "FILE FUNCTION", "- old" / "+ new" lines, "why: ...".

    A block whose only change line is "- *" stands for every mutant of the function.
    """
    entries: list[Equivalent] = []
    block: list[tuple[int, str]] = []
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    for number, text in [*enumerate(lines, 1), (len(lines) + 1, "")]:
        if text.startswith("#"):
            continue
        if text.strip():
            block.append((number, text))
            continue
        if not block:
            continue
        (first, head), *rest = block
        block = []
        where, _, function = head.partition(" ")
        removed = tuple(t[1:].strip() for _, t in rest if t.startswith("-"))
        added = tuple(t[1:].strip() for _, t in rest if t.startswith("+"))
        why = next((t.removeprefix("why:").strip() for _, t in rest if t.startswith("why:")), "")
        if not function or not why or not (removed or added):
            raise SystemExit(f"{path}:{first}: expected FILE FUNCTION, -/+ lines and why: REASON")
        entries.append(Equivalent(where, function.strip(), removed, added, why, first))
    return entries


def tracked_files() -> list[str]:
    """The repository's files as a fresh clone has them, plus new files not yet committed."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return [name for name in listing.split("\0") if name and (REPO / name).is_file()]


def stage(module: Module, where: Path, files: list[str], timeout_multiplier: float) -> None:
    """A copy of the repository with the packages under src/, as mutmut expects them."""
    for name in files:
        target = where / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    for package, source in PACKAGES.items():
        shutil.copytree(
            source, where / "src" / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    also_copy = sorted({name.split("/")[0] for name in files} - {"tests", "pyproject.toml"})
    settings = "\n".join(
        [
            "",
            "[tool.mutmut]",
            'source_paths = ["src"]',
            f"only_mutate = {_toml_list(module.sources)}",
            f"also_copy = {_toml_list(also_copy)}",
            f"pytest_add_cli_args_test_selection = {_toml_list(module.tests)}",
            'pytest_add_cli_args = ["-p", "no:cacheprovider", "-m", "not containers"]',
            # gRPC is not fork-safe: mutants are forked from a process that has not run it.
            'process_isolation = "forkserver"',
            # A mutant's tests may take this many times their measured time (plus a second)
            # twice over before it counts as a timeout (a hang the mutation caused).
            f"timeout_multiplier = {timeout_multiplier}",
            "use_git_change_detection = false",
            "",
        ]
    )
    with (where / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
        pyproject.write(settings)


def _toml_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def run_mutmut(where: Path, jobs: int, log: Path) -> int:
    mutmut = Path(sys.executable).with_name("mutmut")
    with log.open("wb") as out:
        return subprocess.run(
            [str(mutmut), "run", "--max-children", str(jobs)],
            cwd=where,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            check=False,
        ).returncode


def function_of(mutant_name: str) -> str:
    """lva_extension.x.y.xǁCǁf__mutmut_3 -> C.f; lva_extension.x.x_f__mutmut_1 -> f."""
    last = mutant_name.rpartition(".")[2].rpartition("__mutmut_")[0]
    if last.startswith("xǁ"):
        return ".".join(last.split("ǁ")[1:])
    return last.removeprefix("x_")


def results(where: Path, module: Module) -> list[Mutant]:
    """Every mutant of the module's files, with its outcome and the lines it changes."""
    os.chdir(where)  # mutmut reads its files relative to the working directory
    data = importlib.import_module("mutmut.mutation.data")
    diffs = importlib.import_module("mutmut.mutation.diff_apply")
    mutants: list[Mutant] = []
    for meta in sorted((where / "mutants" / "src").rglob("*.py.meta")):
        path = str(meta.relative_to(where / "mutants")).removesuffix(".meta")
        if not any(fnmatch(path, pattern) for pattern in module.sources):
            continue
        source: Any = data.SourceFileMutationData(path=path)
        source.load()
        for name, exit_code in sorted(source.exit_code_by_key.items(), key=_in_order):
            diff: str = diffs.get_diff_for_mutant(name, path=path)
            mutants.append(
                Mutant(
                    name,
                    path,
                    function_of(name),
                    exit_code,
                    tuple(_changed(diff, "-")),
                    tuple(_changed(diff, "+")),
                )
            )
    os.chdir(REPO)
    return mutants


def _in_order(item: tuple[str, int | None]) -> tuple[str, int]:
    function, _, number = item[0].rpartition("__mutmut_")
    return function, int(number) if number.isdigit() else 0


def _changed(diff: str, sign: str) -> Iterator[str]:
    for line in diff.splitlines():
        if line.startswith(sign) and not line.startswith(sign * 3):
            yield line[1:].strip()


@dataclass
class Score:
    module: str
    mutants: int
    killed: int
    equivalent: int
    alive: list[Mutant]
    not_run: int
    seconds: float
    floor: float

    @property
    def percent(self) -> float:
        counted = self.killed + len(self.alive)
        return 100.0 * self.killed / counted if counted else 100.0

    def line(self) -> str:
        verdict = "ok" if self.percent >= self.floor else f"BELOW FLOOR {self.floor:g}%"
        return (
            f"{self.module:<24} {self.percent:5.1f}%  killed {self.killed:>4} of"
            f" {self.killed + len(self.alive):>4}  equivalent {self.equivalent:>3}"
            f"  {self.seconds:6.0f}s  {verdict}"
        )


def score(
    name: str, module: Module, mutants: list[Mutant], equivalents: list[Equivalent], seconds: float
) -> Score:
    by_key = {entry.key(): entry for entry in equivalents}
    killed = equivalent = not_run = 0
    alive: list[Mutant] = []
    for mutant in mutants:
        path, function, _, _ = mutant.key()
        entry = by_key.get(mutant.key()) or by_key.get((path, function, ("*",), ()))
        if entry is not None:
            entry.used = True
            if not mutant.killed:  # a listed mutant the tests kill after all counts as killed
                equivalent += 1
                continue
        if mutant.exit_code in NOT_RUN:
            not_run += 1
        elif mutant.killed:
            killed += 1
        else:
            alive.append(mutant)
    return Score(name, len(mutants), killed, equivalent, alive, not_run, seconds, module.floor)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"some of: {', '.join(MODULES)} (default: all)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="mutants at once")
    parser.add_argument(
        "--keep", type=Path, help="stage in this folder and keep it (default: a temporary one)"
    )
    parser.add_argument(
        "--timeout-multiplier",
        type=float,
        default=5.0,
        help="a mutant's tests may take (measured time + 1 s) x 2 x this",
    )
    parser.add_argument("--list", action="store_true", help="print the modules and their tests")
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(MODULES)}")
    chosen = args.modules or list(MODULES)
    if args.list:
        for name in chosen:
            print(
                f"{name}: {' '.join(MODULES[name].sources)}\n    "
                + "\n    ".join(MODULES[name].tests)
            )
        return 0
    equivalents = read_equivalents()
    root = args.keep or Path(tempfile.mkdtemp(prefix="lva-mutation-"))
    files = tracked_files()
    scores: list[Score] = []
    failed: list[str] = []
    try:
        for name in chosen:
            module = MODULES[name]
            where = root / name
            shutil.rmtree(where, ignore_errors=True)
            where.mkdir(parents=True)
            stage(module, where, files, args.timeout_multiplier)
            print(f"mutation: {name} ({', '.join(module.sources)})", flush=True)
            started = time.monotonic()
            code = run_mutmut(where, args.jobs, where / "mutmut.log")
            seconds = time.monotonic() - started
            if code != 0:  # say why, and go on with the other modules
                tail = (where / "mutmut.log").read_bytes()[-1500:].decode(errors="replace")
                tail = tail.replace("\r", "\n").splitlines()[-8:]
                print(f"mutation: mutmut failed on {name} (exit {code}):", file=sys.stderr)
                print("\n".join(tail), file=sys.stderr)
                failed.append(name)
                continue
            result = score(name, module, results(where, module), equivalents, seconds)
            scores.append(result)
            print(result.line(), flush=True)
            for mutant in result.alive:
                print(f"    alive: {mutant.path.removeprefix('src/')} {mutant.describe()}")
                print(f"           ({mutant.name})")
            if result.not_run:
                print(f"    {result.not_run} mutant(s) not run (interrupted?)")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print("\nmutation scores (killed / non-equivalent mutants):")
    for result in scores:
        print("  " + result.line())
    ran = {MODULES[name].sources for name in chosen}
    for entry in equivalents:
        covered = any(fnmatch(f"src/{entry.path}", p) for sources in ran for p in sources)
        if covered and not entry.used:
            print(
                f"  stale: {EQUIVALENT.name}:{entry.line} matches no mutant"
                f" ({entry.path} {entry.function})"
            )
    below = [s.module for s in scores if s.percent < s.floor]
    if below:
        print(f"mutation: below the floor: {', '.join(below)}", file=sys.stderr)
    if failed:
        print(f"mutation: mutmut failed on: {', '.join(failed)}", file=sys.stderr)
        return 2
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
