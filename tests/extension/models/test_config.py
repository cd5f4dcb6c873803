"""Model folders: their config, the files they may name, and ``lva-extension models``."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from lva_extension.errors import ExtensionError
from lva_extension.files import FileRoom
from lva_extension.models.config import read_config
from lva_extension.models.repository import load_version
from lva_extension.models.version import session_layout

from tests.support.model_repository import make_model
from tests.support.onnx_models import LABELS
from tests.support.processes import run_command

MiB = 1 << 20


def room(directory: Path, max_mib: int = 1024) -> FileRoom:
    """A repository with the server's guards (maxModelFileMiB, modelReadSeconds)."""
    return FileRoom(str(directory), max_mib * MiB, 60, "the model repository")


def test_a_folder_without_config_takes_the_defaults(tmp_path):
    make_model(tmp_path, "plain")

    version = load_version(room(tmp_path), "plain", cores=2)

    assert version.config.options.model == "plain/model.onnx"
    assert version.config.options.labels == LABELS
    assert (version.batching.size, version.batching.max_queue_delay_ms) == (8, 5.0)
    assert version.config.stream_options == frozenset()
    assert (version.instances, version.threads) == (2, 1)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"topk": 3}, "unknown option(s) topk"),
        ({"batching": {"maxBatch": 4}}, "batching: unknown key(s) maxBatch"),
        ({"batching": {"maxBatchSize": 0}}, "batching.maxBatchSize: expected 1 or more"),
        ({"batching": {"maxQueueDelayMs": -1}}, "batching.maxQueueDelayMs: expected 0 to 10000"),
        (
            {"batching": {"maxBatchSize": 4, "preferredBatchSizes": [8]}},
            "preferredBatchSizes [8] must not exceed maxBatchSize 4",
        ),
        ({"streamOptions": ["layout"]}, "streamOptions: layout cannot be set per stream"),
        ({"streamOptions": ["iouThreshold"]}, "iouThreshold applies to the yolo decoder"),
        ({"instances": -1}, "instances: expected 0"),
        ({"model": "../other/model.onnx"}, "expected a file name in the model's folder"),
        ({"model": "/etc/hostname"}, "expected a file name in the model's folder"),
        ({"model": "missing.onnx"}, "model: 'm/missing.onnx' not found in the model repository"),
        ({"labels": ["a"], "labelsFile": "labels.txt"}, 'give "labels" or "labelsFile"'),
    ],
)
def test_config_mistakes_name_the_key(tmp_path, config, message):
    make_model(tmp_path, "m", config)
    with pytest.raises((ValueError, ExtensionError), match=re.escape(message)):
        read_config("m", room(tmp_path))


def test_config_that_is_not_json(tmp_path):
    folder = make_model(tmp_path, "m")
    (folder / "config.json").write_text("{nope")
    with pytest.raises(ValueError, match=r"config\.json: not valid JSON"):
        read_config("m", room(tmp_path))


def test_files_must_stay_inside_the_repository(tmp_path):
    repository = tmp_path / "repository"
    outside = make_model(tmp_path, "outside")
    folder = make_model(repository, "m", {"labelsFile": "names.txt"})
    (folder / "names.txt").symlink_to(outside / "labels.txt")

    with pytest.raises(ExtensionError, match=r"names\.txt' not found in the model repository"):
        read_config("m", room(repository))


def test_a_fifo_is_refused_without_being_opened(tmp_path):
    folder = make_model(tmp_path, "m", {"labelsFile": "names.txt"})
    os.mkfifo(folder / "names.txt")  # opening it to read would block until a writer came

    # Refused as not found (as a stream's file would be): opening it would block.
    with pytest.raises(ExtensionError, match=r"names\.txt' not found in the model repository"):
        read_config("m", room(tmp_path))


@pytest.mark.parametrize("name", ["config.json", "labels.txt", "model.onnx"])
def test_a_file_over_max_model_file_mib_is_refused_unread(tmp_path, name):
    folder = make_model(tmp_path, "m")
    (folder / name).write_bytes(b" " * (MiB + 1))
    with pytest.raises(ExtensionError, match=r"is larger than this server reads.*maxModelFileMiB"):
        read_config("m", room(tmp_path, max_mib=1))


def test_a_fixed_batch_model_cannot_be_given_another_batch_size(tmp_path):
    make_model(tmp_path, "m", {"batching": {"maxBatchSize": 4}}, shape=[1, 3, 32, 32])
    with pytest.raises(ValueError, match=r"maxBatchSize 4: the model takes batches of 1"):
        load_version(room(tmp_path), "m", cores=2)


def test_providers_missing_from_the_wheel_name_the_wheel(tmp_path):
    make_model(tmp_path, "m", {"providers": ["CUDA", "CPU"]})
    with pytest.raises(ValueError, match=r"CUDAExecutionProvider is not in this ONNX Runtime.*"):
        load_version(room(tmp_path), "m", cores=2)


@pytest.mark.parametrize(
    ("instances", "threads", "cores", "layout"),
    [
        (0, 0, 4, (4, 1)),
        (0, 2, 4, (2, 2)),
        (1, 0, 4, (1, 4)),
        (3, 0, 2, (3, 1)),
        (2, 3, 8, (2, 3)),
    ],
)
def test_session_layout(instances, threads, cores, layout):
    assert session_layout(instances, threads, cores) == layout


def test_the_models_command_lists_each_model(tmp_path):
    make_model(
        tmp_path,
        "detector",
        {
            "batching": {"maxBatchSize": 16, "preferredBatchSizes": [4, 8]},
            "streamOptions": ["topK"],
        },
    )
    make_model(tmp_path, "single", shape=[1, 3, 32, 32])

    listed = run_command("models", "--model-repository", str(tmp_path))
    as_json = run_command("models", "--model-repository", str(tmp_path), "--json")

    assert listed.returncode == 0, listed.stderr
    assert "detector  " in listed.stdout
    assert "  input    X float ['N', 3, 32, 32]" in listed.stdout
    assert "  output   logits float ['N', 3]" in listed.stdout
    assert "maxBatchSize 16, maxQueueDelayMs 5, preferredBatchSizes 4, 8" in listed.stdout
    assert "maxBatchSize 1, maxQueueDelayMs 5, preferredBatchSizes none" in listed.stdout
    assert "streams may set: topK" in listed.stdout
    models = {m["name"]: m for m in json.loads(as_json.stdout)}
    assert models["single"]["inputs"] == [
        {"name": "X", "type": "tensor(float)", "shape": [1, 3, 32, 32]}
    ]
    assert models["detector"]["batching"]["preferredBatchSizes"] == [4, 8]


def test_the_models_command_fails_on_a_model_that_does_not_load(tmp_path: Path):
    make_model(tmp_path, "good")
    (make_model(tmp_path, "bad") / "model.onnx").write_bytes(b"garbage")

    listed = run_command("models", "--model-repository", str(tmp_path))
    unset = run_command("models")

    assert listed.returncode == 1
    assert "bad  NOT LOADED: " in listed.stdout
    assert "good  " in listed.stdout
    assert unset.returncode == 2
    assert "modelRepository: not set" in unset.stderr
