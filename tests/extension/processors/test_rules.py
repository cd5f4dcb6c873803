"""Which processors a stream may name, as the operator's settings say (the messages a
client reads when it names one it may not load)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from lva_extension.errors import InvalidArgument
from lva_extension.processors import LoadingRules
from lva_extension.settings import Settings

KNOWN = "colorIntensity, onnx"
OPEN = LoadingRules(allow_paths=True, allowed_modules=("my_models", "acme.vision"))


def refusal(rules: LoadingRules, name: str) -> str:
    with pytest.raises(InvalidArgument) as raised:
        rules.check_path(name, KNOWN)
    return raised.value.message


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "no such thing",
            "processor 'no such thing': expected a registered name (colorIntensity, onnx)"
            " or a dotted path package.module:Class",
        ),
        (
            "__main__:Evil",
            "processor '__main__:Evil' is not allowed: __main__ and other dunder names are"
            " never loaded",
        ),
        (
            "my_models.__init__:Model",
            "processor 'my_models.__init__:Model' is not allowed: __main__ and other dunder"
            " names are never loaded",
        ),
        (
            "my_models.net:Model.__globals__",
            "processor 'my_models.net:Model.__globals__' is not allowed: __main__ and other"
            " dunder names are never loaded",
        ),
        (
            "mymodels.net:Model",
            "processor 'mymodels.net:Model' is not allowed: dotted paths may name modules"
            " under my_models, acme.vision (allowedProcessorModules)",
        ),
        (
            "acme:Model",
            "processor 'acme:Model' is not allowed: dotted paths may name modules"
            " under my_models, acme.vision (allowedProcessorModules)",
        ),
    ],
)
def test_what_a_client_reads_when_its_processor_is_refused(name, message):
    assert refusal(OPEN, name) == message


@pytest.mark.parametrize("name", ["my_models:Model", "my_models.net:Model", "acme.vision.x:A.B"])
def test_modules_under_the_allowed_prefixes_are_loadable(name):
    assert OPEN.check_path(name, KNOWN) == name


def test_the_rules_follow_the_settings():
    settings = replace(
        Settings(),
        allow_processor_paths=True,
        allowed_processor_modules="my_models, acme.vision.",
        model_dir="/models",
        max_model_file_mib=3,
        model_read_seconds=7.5,
    )
    rules = LoadingRules.of(settings, "acme.vision.tuned:Model")
    assert (rules.allow_paths, rules.allowed_modules) == (True, ("my_models", "acme.vision"))
    assert rules.trusted == frozenset({"acme.vision.tuned:Model"})
    models = rules.models
    assert (models.root, models.max_bytes, models.timeout) == ("/models", 3 << 20, 7.5)


def test_paths_are_off_by_default_and_the_default_processor_is_trusted_anyway():
    rules = LoadingRules.of(Settings(), "their.own:Model")
    assert refusal(rules, "their.other:Model") == (
        "processor 'their.other:Model' is not allowed: this server loads no dotted paths"
        f" (allowProcessorPaths=false); known processors: {KNOWN}"
    )
    assert rules.check_path("their.own:Model", KNOWN) == "their.own:Model"
    # Trust is for that name only, and never for a dunder one.
    dunder = LoadingRules(trusted=frozenset({"__main__:X"}))
    assert "dunder names are never loaded" in refusal(dunder, "__main__:X")
