"""Attack: make the server open, block on or leak files by naming them in options.

A stream never names a file: the onnx ``model`` and ``labelsFile`` are the
operator's (``defaultProcessor``), and a stream that names one is refused
before anything is opened. The files the operator names come from the model
directory only, after symbolic links are resolved; only regular files under
the size cap are read. Every refusal of such a file reads "not found in the
model directory", the same for a missing file as for one outside, and never
quotes what a file holds.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import grpc
import numpy as np
import onnx
import pytest
from lva_extension import Frame
from lva_extension.errors import ExtensionError
from lva_extension.files import FileRoom
from lva_extension.processors import LoadingRules, ProcessorSpec, create_processor
from onnx import TensorProto, helper, numpy_helper

from tests.support.hostility import MODES, Target, normal_stream_served, target
from tests.support.streams import descriptor, raw_call

NOT_FOUND = grpc.StatusCode.NOT_FOUND


def tiny_classifier(path: Path) -> None:
    """Scores the three channel means of a 32x32 image: red, green, blue."""
    nodes = [
        helper.make_node("GlobalAveragePool", ["X"], ["P"]),
        helper.make_node("Flatten", ["P"], ["M"], axis=1),
        helper.make_node("MatMul", ["M", "W"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(np.eye(3, dtype=np.float32) * 10, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    tiny_classifier(folder / "tiny.onnx")
    (folder / "labels.txt").write_text("red\ngreen\nblue\n")
    (folder / "latin1.txt").write_bytes(b"rouge\n\xe9t\xe9\n")
    (folder / "big.txt").write_bytes(b"x\n" * (1 << 20) + b"y\n")  # just over 2 MiB
    os.mkfifo(folder / "fifo.txt")
    os.symlink("/etc/passwd", folder / "passwd-link")
    os.symlink("labels.txt", folder / "labels-link")
    (folder / "sub").mkdir()
    return folder


@pytest.fixture(scope="module", params=MODES, ids=list(MODES))
def victim(request, model_dir):
    args = ("--model-dir", str(model_dir), *MODES[request.param])
    with target(*args) as running:
        yield running


def refusal(victim: Target, **options: object) -> tuple[grpc.StatusCode, str]:
    configuration = json.dumps({"processor": "onnx", **options})
    outcome = raw_call(victim.address, [descriptor(configuration=configuration)])
    return outcome.code, outcome.details


NAMES = [
    "/dev/ptmx",
    "/dev/zero",
    "/etc/passwd",
    "../../../../etc/passwd",
    "passwd-link",
    "fifo.txt",
    "labels.txt",
    "tiny.onnx",
    "x" * 60_000,
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("option", ["labelsFile", "model"])
def test_a_stream_that_names_a_file_is_refused_before_it_is_opened(victim, option, name):
    code, details = refusal(victim, **{option: name})
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert f"a stream cannot set {option}" in details
    assert len(details) < 400  # the client's name never quoted back at length
    assert "root:" not in details  # nothing of what any file holds
    victim.assert_unharmed()


def test_many_streams_naming_a_fifo_block_no_one(victim):
    answers: list[grpc.StatusCode] = []

    def one() -> None:
        answers.append(refusal(victim, labelsFile="fifo.txt", model="fifo.txt")[0])

    threads = [threading.Thread(target=one) for _ in range(12)]
    for thread in threads:
        thread.start()
    assert normal_stream_served(victim.address)  # while they are refused
    for thread in threads:
        thread.join(timeout=30)
    assert answers == [grpc.StatusCode.INVALID_ARGUMENT] * 12
    victim.assert_unharmed()


# --- the operator's own files: the same guards (a mistake or a swapped file) -----


def created(model_dir: Path, **options: object) -> tuple[grpc.StatusCode, str]:
    """What the onnx processor says of these server-side options (a refusal, or OK)."""
    room = FileRoom(str(model_dir), 2 << 20, 10)
    spec = ProcessorSpec("onnx", {"model": "tiny.onnx", **options})
    try:
        create_processor(spec, LoadingRules(models=room)).close()
    except ExtensionError as error:
        return error.status, error.message
    return grpc.StatusCode.OK, ""


@pytest.mark.parametrize(
    "name",
    [
        "/dev/ptmx",
        "/dev/zero",
        "/bin/ls",
        "/etc/passwd",
        "/etc/no-such-file",
        "../../../../etc/passwd",
        "passwd-link",
        "fifo.txt",
        "sub",
        "missing.txt",
        "x" * 60_000,
    ],
)
@pytest.mark.parametrize("option", ["labelsFile", "model"])
def test_files_outside_or_not_regular_are_not_found_in_the_model_directory(model_dir, option, name):
    code, details = created(model_dir, **{option: name})
    assert code == NOT_FOUND, details
    assert f"{option}: " in details and "not found in the model directory" in details
    assert len(details) < 400
    assert "root:" not in details


@pytest.mark.parametrize("labels", ["labels.txt", "labels-link", "{dir}/labels-link"])
def test_the_operators_model_and_labels_from_the_model_directory_are_served(model_dir, labels):
    room = FileRoom(str(model_dir), 2 << 20, 10)
    options = {"model": "tiny.onnx", "labelsFile": labels.format(dir=model_dir)}
    processor = create_processor(ProcessorSpec("onnx", options), LoadingRules(models=room))
    frame = np.zeros((32, 32, 3), np.uint8)
    frame[..., 1] = 200
    (inferences,) = processor.process([Frame(frame, 0)])
    assert [i.classification.tag.value for i in inferences] == ["green"]


def test_missing_and_existing_files_outside_read_the_same(model_dir):
    answers = {
        name: created(model_dir, labelsFile=name)[1].replace(name, "NAME")
        for name in ("/etc/passwd", "/etc/no-such-file", "/bin/ls", "/bin/no-such-file")
    }
    assert len(set(answers.values())) == 1, answers


def test_a_file_over_the_cap_is_refused_unread(model_dir):
    code, details = created(model_dir, labelsFile="big.txt")
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "maxModelFileMiB" in details


def test_a_file_that_is_not_text_is_refused_without_quoting_it(model_dir):
    code, details = created(model_dir, labelsFile="latin1.txt")
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "is not UTF-8 text" in details
    assert "rouge" not in details and "\\xe9" not in details


def test_a_model_that_is_not_a_model_is_refused_without_quoting_it(model_dir):
    code, details = created(model_dir, model="labels.txt")
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "not an ONNX model" in details
    assert "green" not in details
