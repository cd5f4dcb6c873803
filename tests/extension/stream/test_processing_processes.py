"""processingProcesses: processors run in processes of their own, a stream pinned to one."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import grpc
import pytest
from lva_extension.client import ClientOptions, ExtensionCallError, ExtensionClient, StreamFormat
from lva_extension.client.clips import dark_light_frames

from tests.support.streams import descriptor, raw_call, run_client, sample, tags


@pytest.fixture(scope="module")
def pooled():
    from tests.support.servers import running_server

    with running_server(processing_processes=2) as server:
        yield server


def options(server, configuration: str, shm: bool = False, **more) -> ClientOptions:
    return ClientOptions(
        server.address,
        StreamFormat(width=40, height=30),
        shared_memory=shm,
        extension_configuration=configuration,
        **more,
    )


@pytest.mark.parametrize("shm", [False, True], ids=["embedded", "shm"])
def test_frames_are_processed_in_another_process_with_the_stream_state(pooled, shm, shm_dir_clean):
    results, summary = run_client(
        options(pooled, "tests.support.processors:WhereAndHowMany", shm=shm),
        dark_light_frames(40, 30, 12),
    )
    assert summary.violations == []
    got = [tag.split("/") for tag in tags(sorted(results, key=lambda r: r.sequence))]
    pids = {pid for pid, _ in got}
    assert len(pids) == 1
    assert pids != {str(os.getpid())}
    assert [int(n) for _, n in got] == list(range(1, 13))  # one instance, frames in order


@pytest.mark.parametrize("shm", [False, True], ids=["embedded", "shm"])
def test_results_are_the_same_as_in_process(pooled, server, shm):
    frames = list(dark_light_frames(40, 30, 8, scene_frames=2))
    pooled_results, _ = run_client(options(pooled, "", shm=shm), frames)
    local_results, _ = run_client(options(server, "", shm=shm), frames)
    key = lambda r: r.sequence  # noqa: E731
    assert tags(sorted(pooled_results, key=key)) == tags(sorted(local_results, key=key))
    assert tags(sorted(pooled_results, key=key)) == ["dark", "dark", "light", "light"] * 2


def test_streams_are_spread_over_the_processes(pooled):
    async def camera() -> str:
        client = ExtensionClient(options(pooled, "tests.support.processors:WhereAndHowMany"))
        results = [r async for r in client.stream(dark_light_frames(40, 30, 2))]
        return results[0].inferences[0].classification.tag.value.split("/")[0]

    async def cameras() -> list[str]:
        return await asyncio.gather(*(camera() for _ in range(4)))

    assert len(set(asyncio.run(cameras()))) == 2


def test_the_processing_process_unmaps_the_shared_memory_when_the_stream_ends(pooled):
    client_options = options(pooled, "tests.support.processors:WhereAndHowMany", shm=True)
    results, _ = run_client(client_options, dark_light_frames(40, 30, 3))
    pid = results[0].inferences[0].classification.tag.value.split("/")[0]
    assert "lva-extension-client" not in Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([descriptor(width=40, height=30), sample(2, bytes(10))], "sample 2: RAW RGB24 40x30"),
        ([descriptor(configuration="nope")], "unknown processor 'nope'"),
        ([descriptor(shm=("lva-extension-missing", 100))], "does not exist"),
    ],
)
def test_errors_in_a_processing_process_reach_the_client(pooled, messages, message):
    outcome = raw_call(pooled.address, messages)
    assert outcome.code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)
    assert message in outcome.details


def test_a_processing_process_that_dies_ends_its_streams_and_is_replaced(pooled):
    with pytest.raises(ExtensionCallError) as failure:
        run_client(
            options(pooled, "tests.support.processors:DieOnThirdFrame", window=1),
            dark_light_frames(40, 30, 6),
        )
    assert failure.value.code == grpc.StatusCode.INTERNAL
    assert "processing process of this stream died" in failure.value.details
    for _ in range(2):  # both processes serve again, the new one included
        results, summary = run_client(options(pooled, ""), dark_light_frames(40, 30, 3))
        assert summary.violations == []
        assert len(results) == 3
