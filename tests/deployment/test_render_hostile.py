"""Hostile templates: module folders only under modules/, and one line for any error."""

from __future__ import annotations

import shutil

import pytest

from tests.deployment.test_render import (
    MODULE_DIR,
    assert_one_line_error,
    load_template,
    make_solution,
    run_renderer,
)


def with_image(template: dict, image: str) -> dict:
    modules = template["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"]
    modules["grpcExtension"]["settings"]["image"] = image
    return template


@pytest.mark.parametrize("folder", ["{outside}", "../outside", "grpcExtension/../../outside", ""])
def test_module_folders_outside_modules_are_refused(tmp_path, folder):
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(MODULE_DIR / "module.json", outside / "module.json")
    image = "${MODULES." + folder.format(outside=outside) + "}"
    template = make_solution(tmp_path / "solution", with_image(load_template(), image))
    result = run_renderer("--template", template, "--output-dir", tmp_path / "config")
    assert_one_line_error(result, "MODULES.")
    assert not (tmp_path / "config").exists()


@pytest.mark.parametrize("depth", [100, 5_000, 100_000])
def test_a_deeply_nested_template_is_one_line(tmp_path, depth):
    template = make_solution(tmp_path / "solution")
    text = template.read_text(encoding="utf-8")
    template.write_text(
        text.replace(
            '"modulesContent"', '"deep": ' + "[" * depth + "]" * depth + ', "modulesContent"', 1
        )
    )
    result = run_renderer("--template", template, "--output-dir", tmp_path / "config")
    assert_one_line_error(result, "nests deeper than")


def test_deep_create_options_text_is_one_line(tmp_path):
    template = load_template()
    modules = template["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"]
    modules["grpcExtension"]["settings"]["createOptions"] = "[" * 100_000 + "]" * 100_000
    path = make_solution(tmp_path / "solution", template)
    result = run_renderer("--template", path, "--output-dir", tmp_path / "config")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_huge_integer_is_one_line(tmp_path):
    template = make_solution(tmp_path / "solution")
    text = template.read_text(encoding="utf-8")
    template.write_text(
        text.replace('"modulesContent"', '"n": ' + "9" * 5000 + ', "modulesContent"', 1)
    )
    result = run_renderer("--template", template, "--output-dir", tmp_path / "config")
    assert_one_line_error(result, "not valid JSON")
