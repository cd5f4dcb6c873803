"""The README documents what users rely on: the two commands and every setting."""

from __future__ import annotations

import dataclasses

from lva_extension.settings import Settings

from tests.support.paths import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_the_two_commands_exist_and_ci_runs_the_test_command():
    for command in ("scripts/demo.sh", "scripts/test.sh"):
        assert f"{command}  " in README or f"{command} " in README
        assert (REPO / command).stat().st_mode & 0o111, f"{command} is not executable"
    assert "scripts/test.sh" in (REPO / ".ci" / "run").read_text()


def test_every_setting_is_in_the_settings_table():
    section = README[README.index("### Settings") : README.index("### Choosing the model")]
    first_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    documented = {name for cell in first_cells for name in cell.replace("`", "").split(", ")}
    names = {f.metadata["env"] for f in dataclasses.fields(Settings)}
    assert sorted(names - {n.strip() for n in documented}) == []
