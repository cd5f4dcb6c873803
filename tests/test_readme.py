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


def settings_table() -> dict[str, str]:
    """Each variable of the README's settings table -> the default it documents."""
    section = README[README.index("### Settings") : README.index("### Choosing the model")]
    rows = [line.split("|") for line in section.splitlines() if line.startswith("| `")]
    return {
        name.strip(): row[-2].strip().strip("`")
        for row in rows
        for name in row[1].replace("`", "").split(",")
    }


def shown(value: object) -> str:
    """A default as the README writes it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value) if value != "" else "unset"


def test_every_setting_is_in_the_settings_table_with_its_default():
    table = settings_table()
    fields = {f.metadata["env"]: f.default for f in dataclasses.fields(Settings)}
    assert sorted(set(fields) - set(table)) == []
    assert sorted(set(table) - set(fields)) == []
    wrong = {env: (table[env], shown(default)) for env, default in fields.items()}
    assert {env: pair for env, pair in wrong.items() if pair[0] != pair[1]} == {}
