"""Models of the repository through the real server: chosen by name, batched across
streams, each frame's result on its own acknowledgement, reloaded while streams run."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
import socket
import urllib.request
from pathlib import Path

import grpc
import numpy as np
import pytest
from lva_extension.client import ClientOptions, ExtensionClient, StreamFormat
from lva_extension.errors import ConfigurationError
from lva_extension.server import ExtensionServer

from tests.support.model_repository import camera_colour, make_model, stream_cameras, wait_until
from tests.support.onnx_models import (
    COLOURS,
    LABELS,
    TOLERANCE,
    assert_classes,
    classes_of,
    expected_classes,
    solid,
)
from tests.support.servers import loopback_settings
from tests.support.streams import descriptor, raw_call

MODEL = '{"model": "cls"}'


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    make_model(
        tmp_path,
        "cls",
        {
            "topK": 3,
            "batching": {"maxBatchSize": 8, "maxQueueDelayMs": 5},
            "streamOptions": ["scoreThreshold"],
        },
    )
    make_model(tmp_path, "single", {"topK": 3}, shape=[1, 3, 32, 32])
    return tmp_path


def stats_of(running, name: str):
    (model,) = [m for m in running.server.models.loaded() if m.name == name]
    return model.stats


def assert_each_camera_got_its_own(results_by_camera) -> None:
    for camera, (results, client) in enumerate(results_by_camera):
        assert client.summary.violations == []
        sequences = [r.sequence for r in results]
        assert sequences == sorted(sequences)  # acknowledged in the stream's order
        for result in results:
            colour = camera_colour(camera, result.sequence - 2)
            assert_classes(classes_of(result.inferences), expected_classes(colour))


@pytest.mark.parametrize("shared_memory", [False, True], ids=["embedded", "shm"])
def test_results_are_the_same_with_batching_across_streams_on_and_off(
    start_server, repository, shared_memory
):
    outcomes = {}
    for cross in (True, False):
        running = start_server(model_repository=str(repository), cross_stream_batching=cross)
        outcomes[cross] = stream_cameras(running.address, 4, 12, MODEL, shared_memory)
        assert_each_camera_got_its_own(outcomes[cross])
        stats = stats_of(running, "cls")
        assert stats.frames == 48

    for (on, _), (off, _) in zip(outcomes[True], outcomes[False], strict=True):
        assert [r.sequence for r in on] == [r.sequence for r in off]
        for a, b in zip(on, off, strict=True):
            assert [tag for tag, _ in classes_of(a.inferences)] == [
                tag for tag, _ in classes_of(b.inferences)
            ]
            np.testing.assert_allclose(
                [c for _, c in classes_of(a.inferences)],
                [c for _, c in classes_of(b.inferences)],
                atol=TOLERANCE,
            )


@pytest.mark.parametrize("shared_memory", [False, True], ids=["embedded", "shm"])
def test_frames_of_many_streams_share_one_batch_and_each_gets_its_own_result(
    start_server, tmp_path, shared_memory
):
    # A queue delay far longer than the test: the batch runs only once it is full,
    # so its eight frames come from four cameras, two each (on one session, not split).
    batching = {"maxBatchSize": 8, "maxQueueDelayMs": 10000}
    make_model(tmp_path, "cls", {"topK": 3, "batching": batching, "instances": 1})
    running = start_server(model_repository=str(tmp_path))

    outcome = stream_cameras(running.address, 4, 2, MODEL, shared_memory, window=2)

    assert_each_camera_got_its_own(outcome)
    stats = stats_of(running, "cls")
    assert (stats.batches, stats.frames) == (1, 8)


def test_a_model_without_a_dynamic_batch_runs_frame_by_frame(start_server, repository):
    running = start_server(model_repository=str(repository))

    outcome = stream_cameras(running.address, 3, 4, '{"model": "single"}')

    assert_each_camera_got_its_own(outcome)
    stats = stats_of(running, "single")
    assert (stats.batches, stats.frames) == (12, 12)


def test_a_stream_sets_only_the_options_the_model_allows(start_server, repository):
    running = start_server(model_repository=str(repository))
    configuration = json.dumps({"model": "cls", "scoreThreshold": 0.2})

    ((results, _),) = stream_cameras(running.address, 1, 6, configuration)

    for result in results:
        colour = camera_colour(0, result.sequence - 2)
        wanted = [(tag, p) for tag, p in expected_classes(colour) if p >= 0.2]
        assert_classes(classes_of(result.inferences), wanted)


def test_the_default_processor_may_be_a_model(start_server, repository):
    running = start_server(model_repository=str(repository), default_processor=MODEL)

    ((plain, _),) = stream_cameras(running.address, 1, 3, "")
    ((refined, _),) = stream_cameras(running.address, 1, 3, '{"scoreThreshold": 0.5}')

    assert len(plain[0].inferences) == 3
    assert all(i.classification.tag.confidence >= 0.5 for r in refined for i in r.inferences)


@pytest.mark.parametrize(
    ("configuration", "message"),
    [
        ({"model": "nope"}, "unknown model 'nope'; known models: cls, single"),
        ({"model": "/models/cls/model.onnx"}, "a stream cannot name a file"),
        ({"model": "../cls"}, "a stream cannot name a file"),
        ({"model": "cls.onnx"}, "a stream cannot name a file"),
        ({"model": 5}, "expected the name of a model of the repository, got '5'"),
        ({"model": "cls", "topK": 1}, "a stream may not set topK"),
        ({"model": "cls", "scoreThreshold": "high"}, "scoreThreshold: expected a number"),
        ({"processor": "onnx", "model": "/models/cls/model.onnx"}, "a stream cannot set model"),
    ],
)
def test_streams_choose_by_name_and_never_name_a_file(
    start_server, repository, configuration, message
):
    running = start_server(model_repository=str(repository))

    outcome = raw_call(running.address, [descriptor(configuration=json.dumps(configuration))])

    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT
    assert message in outcome.details
    assert not outcome.responses
    if "cannot name a file" in message:
        assert "known models: cls, single" in outcome.details


def test_a_server_without_a_repository_says_so(server):
    outcome = raw_call(server.address, [descriptor(configuration=MODEL)])
    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "no model repository (modelRepository)" in outcome.details


def test_a_model_that_does_not_load_stops_the_start(repository):
    (repository / "cls" / "model.onnx").write_bytes(b"not a model")
    server = ExtensionServer(loopback_settings(model_repository=str(repository)))

    with pytest.raises(ConfigurationError, match=r"^modelRepository: model cls: .*"):
        asyncio.run(server.start())


def test_models_load_at_first_use_when_asked(start_server, repository, caplog):
    caplog.set_level(logging.INFO, logger="lva_extension")
    (repository / "single" / "model.onnx").write_bytes(b"not a model")
    running = start_server(model_repository=str(repository), model_loading="firstUse")
    assert running.server.models.loaded() == []

    broken = raw_call(running.address, [descriptor(configuration='{"model": "single"}')])
    again = raw_call(running.address, [descriptor(configuration='{"model": "single"}')])
    ((results, _),) = stream_cameras(running.address, 1, 2, MODEL)

    for outcome in (broken, again):
        assert outcome.code == grpc.StatusCode.FAILED_PRECONDITION
        assert outcome.details == "model 'single' cannot be loaded (the server's log says why)"
    # The folder did not change: the second stream is told without another load.
    errors = [r for r in caplog.records if "model single cannot be loaded" in r.getMessage()]
    assert len(errors) == 1
    assert len(results) == 2
    assert [m.name for m in running.server.models.loaded()] == ["cls"]


def test_a_changed_model_folder_is_reloaded_without_dropping_streams(start_server, repository):
    running = start_server(model_repository=str(repository), model_poll_seconds=0.05)
    labels = repository / "cls" / "labels.txt"
    tags: list[str] = []

    async def camera() -> ExtensionClient:
        options = ClientOptions(
            running.address, StreamFormat(width=64, height=48), extension_configuration=MODEL
        )
        client = ExtensionClient(options)

        def frames():
            for _ in range(5000):
                if tags.count("rouge") >= 5:
                    return
                yield solid(COLOURS[0])

        async for result in client.stream(frames()):
            tags.append(result.inferences[0].classification.tag.value)
            if len(tags) == 5:
                labels.write_text("rouge\nvert\nbleu\n")  # a new version of the model
            await asyncio.sleep(0.002)  # a camera, not a flood
        return client

    client = asyncio.run(camera())

    assert client.summary.violations == []
    assert client.summary.frames_acknowledged == client.summary.frames_sent
    switched = tags.index("rouge")
    assert switched >= 5
    assert set(tags[:switched]) == {"red"} and set(tags[switched:]) == {"rouge"}


def test_a_broken_change_keeps_the_loaded_version_serving(start_server, repository, caplog):
    caplog.set_level(logging.INFO, logger="lva_extension")
    running = start_server(model_repository=str(repository), model_poll_seconds=0.05)
    model = repository / "cls" / "model.onnx"
    good = model.read_bytes()
    model.write_bytes(b"half a model")

    def refused() -> bool:
        return any("model cls cannot be loaded" in r.getMessage() for r in caplog.records)

    async def camera() -> list[str]:
        options = ClientOptions(
            running.address, StreamFormat(width=64, height=48), extension_configuration=MODEL
        )
        tags: list[str] = []

        def frames():
            for _ in range(5000):
                if refused() and len(tags) > 5:
                    return
                yield solid(COLOURS[1])

        async for result in ExtensionClient(options).stream(frames()):
            tags.append(result.inferences[0].classification.tag.value)
            await asyncio.sleep(0.002)
        return tags

    tags = asyncio.run(camera())

    assert set(tags) == {"green"}
    assert any("the loaded version goes on serving" in r.getMessage() for r in caplog.records)
    model.write_bytes(good)  # fixed: the next stable look loads it again


def test_a_removed_folder_keeps_open_streams_and_leaves_the_list(start_server, repository):
    running = start_server(model_repository=str(repository), model_poll_seconds=0.05)
    shutil.rmtree(repository / "single")

    wait_until(lambda: "single" not in running.server.models.names())
    outcome = raw_call(running.address, [descriptor(configuration='{"model": "single"}')])
    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "known models: cls" in outcome.details


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_per_model_metrics_and_stats_line(start_server, repository, caplog):
    caplog.set_level(logging.INFO, logger="lva_extension")
    port = free_port()
    running = start_server(
        model_repository=str(repository), metrics_port=port, stats_interval_seconds=0.1
    )
    stream_cameras(running.address, 2, 10, MODEL)
    stream_cameras(running.address, 1, 5, '{"model": "single"}')

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()

    assert 'lva_extension_model_batch_size_sum{model="cls"} 20.0' in text
    assert 'lva_extension_model_batch_size_count{model="single"} 5.0' in text
    assert 'lva_extension_model_queue_delay_seconds_count{model="cls"} 20.0' in text
    assert 'lva_extension_model_inference_seconds_count{model="single"} 5.0' in text

    def single_lines() -> list[str] | None:
        # Each stats line counts the batches since the one before: together, all five.
        lines = [r.getMessage() for r in caplog.records]
        found = [m for m in lines if m.startswith("stats: model single:")]
        counts = [re.search(r"batches=(\d+) frames=(\d+)", m) for m in found]
        done = sum(int(c[1]) for c in counts if c) == 5
        return found if done else None

    lines = wait_until(single_lines)
    assert sum(int(re.search(r"frames=(\d+)", m)[1]) for m in lines) == 5
    assert all("mean_batch=1.0 max_batch=1" in m for m in lines)
    assert all("queue_delay_p99=" in m and "inference_mean=" in m for m in lines)


def test_labels_are_the_folders(start_server, tmp_path):
    make_model(tmp_path, "plain", labels=None)  # no config, no labels: class indices
    running = start_server(model_repository=str(tmp_path))

    ((results, _),) = stream_cameras(running.address, 1, 1, '{"model": "plain"}')

    assert [tag for tag, _ in classes_of(results[0].inferences)] == [
        str(LABELS.index(expected_classes(camera_colour(0, 0))[0][0]))
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"default_processor": '{"model": "nope"}'}, "which is not in the model repository"),
        ({"model_repository": ""}, "but modelRepository is not set"),
        ({"model_repository": "/nonexistent"}, "modelRepository: /nonexistent is not a directory"),
    ],
)
def test_a_default_model_that_cannot_be_served_stops_the_start(repository, overrides, message):
    settings = loopback_settings(
        **{"model_repository": str(repository), "default_processor": MODEL, **overrides}
    )
    with pytest.raises(ConfigurationError, match=message):
        asyncio.run(ExtensionServer(settings).start())
