"""The dynamic batcher in-process, against a fake model version whose runs the test holds.

Each frame's slot gets one number; the fake model answers each row with that
number, and the decoder turns it into a tag naming the version that ran it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pytest
from lva_extension import inferences
from lva_extension.frames.resize import Placement
from lva_extension.models import ModelBatcher
from lva_extension.models.config import BatchingPolicy
from lva_extension.models.version import Ran
from lva_extension.telemetry import ModelStats, Telemetry

PLACEMENT = Placement(1, 1, 1.0, 1.0, 0.0, 0.0)


@dataclass
class FakeInput:
    batch: int | None = None


class FakeFitter:
    def allocate(self, count: int) -> np.ndarray:
        return np.full((count, 1), -1.0)


class FakeDecoder:
    def __init__(self, version: str) -> None:
        self.version = version

    def decode(self, output: np.ndarray, placement: Placement) -> list:
        return [inferences.classification(f"{self.version}:{int(output)}")]


class FakeVersion:
    """What the batcher needs of a model version; ``gate`` holds its runs."""

    def __init__(
        self,
        name: str = "A",
        max_batch: int = 8,
        delay_ms: float = 10_000,
        preferred: tuple[int, ...] = (),
        instances: int = 1,
        fixed_batch: int | None = None,
        fail: bool = False,
    ) -> None:
        self.name = name
        self.instances = instances
        self.batching = BatchingPolicy(max_batch, delay_ms, preferred)
        self.input = FakeInput(fixed_batch)
        self.fitter = FakeFitter()
        self.decoder = FakeDecoder(name)
        self.executor = ThreadPoolExecutor(instances)
        self.gate = threading.Event()
        self.gate.set()
        self.runs: list[tuple[int, int]] = []  # (rows in the tensor, frames)
        self.fail = fail

    def run(self, tensor: np.ndarray, count: int) -> Ran:
        self.gate.wait(30)
        self.runs.append((len(tensor), count))
        if self.fail:
            raise RuntimeError("the model broke")
        return Ran([tensor[i, 0] for i in range(count)], time.monotonic(), 0.001)


class Model:
    """The current version, as a ServedModel holds it."""

    def __init__(self, version: FakeVersion) -> None:
        self.version = version
        self.stats = ModelStats("fake", Telemetry().metrics)

    def batcher(self, capacity: int | None = None) -> ModelBatcher:
        return ModelBatcher(
            lambda: self.version,  # type: ignore[arg-type, return-value]
            self.stats,
            capacity,
        )


async def frame(batcher: ModelBatcher, value: int, fill_fails: bool = False):
    """Reserve a slot, fill it with ``value`` (as a stream's thread would), await the result."""
    reservation = await batcher.reserve(1, lambda version: version.decoder)
    (slot,) = reservation.slots
    filled = asyncio.get_running_loop().create_future()
    if fill_fails:
        filled.set_exception(ValueError("a bad sample"))
    else:
        slot.tensor[0] = value
        filled.set_result([PLACEMENT])
    reservation.filling(filled)
    if fill_fails:
        with pytest.raises(ValueError, match="a bad sample"):
            await filled
    ((found, failed),) = await reservation.results()
    return [i.classification.tag.value for i in found], failed


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0.01)


def test_a_full_batch_goes_at_once_and_each_frame_gets_its_own_result():
    model = Model(FakeVersion(max_batch=4))  # its queue delay would outlast the test

    async def scenario():
        batcher = model.batcher()
        return await asyncio.gather(*(frame(batcher, v) for v in (10, 11, 12, 13)))

    results = asyncio.run(scenario())

    assert results == [([f"A:{v}"], False) for v in (10, 11, 12, 13)]
    assert model.version.runs == [(4, 4)]
    assert (model.stats.batches, model.stats.frames) == (1, 4)


def test_a_partial_batch_goes_after_its_queue_delay():
    model = Model(FakeVersion(max_batch=8, delay_ms=30))

    async def scenario():
        batcher = model.batcher()
        return await asyncio.gather(*(frame(batcher, v) for v in (1, 2, 3)))

    assert [tags for tags, _ in asyncio.run(scenario())] == [["A:1"], ["A:2"], ["A:3"]]
    assert model.version.runs == [(8, 3)]


def test_a_preferred_size_goes_without_waiting_for_the_delay():
    model = Model(FakeVersion(max_batch=8, delay_ms=200, preferred=(2,)))

    async def scenario():
        batcher = model.batcher()
        return await asyncio.gather(*(frame(batcher, v) for v in (1, 2, 3)))

    asyncio.run(scenario())

    assert [count for _, count in model.version.runs] == [2, 1]


def test_batches_grow_while_every_session_is_busy():
    version = FakeVersion(max_batch=8, delay_ms=0)
    model = Model(version)

    async def scenario():
        batcher = model.batcher()
        version.gate.clear()
        first = asyncio.ensure_future(frame(batcher, 1))  # runs alone, and is held
        await settle()
        rest = [asyncio.ensure_future(frame(batcher, v)) for v in (2, 3, 4, 5, 6)]
        await settle()
        version.gate.set()
        return await asyncio.gather(first, *rest)

    results = asyncio.run(scenario())

    assert [count for _, count in version.runs] == [1, 5]
    assert [tags for tags, _ in results] == [[f"A:{v}"] for v in range(1, 7)]


def test_a_new_version_takes_new_frames_while_formed_batches_finish_on_the_old():
    old, new = FakeVersion("A", delay_ms=0), FakeVersion("B", delay_ms=0)
    model = Model(old)

    async def scenario():
        batcher = model.batcher()
        old.gate.clear()
        first = asyncio.ensure_future(frame(batcher, 1))
        second = asyncio.ensure_future(frame(batcher, 2))  # formed on A behind the first
        await settle()
        model.version = new  # the folder changed and loaded
        third = asyncio.ensure_future(frame(batcher, 3))
        await settle()
        old.gate.set()
        return await asyncio.gather(first, second, third)

    results = asyncio.run(scenario())

    assert [tags for tags, _ in results] == [["A:1"], ["A:2"], ["B:3"]]
    assert [count for _, count in old.runs] == [1, 1]
    assert [count for _, count in new.runs] == [1]


def test_a_failing_model_gives_each_frame_no_inferences_and_a_failure():
    model = Model(FakeVersion(max_batch=2, fail=True))

    async def scenario():
        batcher = model.batcher()
        return await asyncio.gather(frame(batcher, 1), frame(batcher, 2))

    assert asyncio.run(scenario()) == [([], True), ([], True)]


def test_a_frame_that_could_not_be_fitted_leaves_the_others_their_results():
    model = Model(FakeVersion(max_batch=3))

    async def scenario():
        batcher = model.batcher()
        return await asyncio.gather(
            frame(batcher, 1), frame(batcher, 2, fill_fails=True), frame(batcher, 3)
        )

    assert asyncio.run(scenario()) == [(["A:1"], False), ([], False), (["A:3"], False)]


def test_a_stream_of_its_own_batches_at_most_its_capacity():
    model = Model(FakeVersion(max_batch=8, delay_ms=30))

    async def scenario():
        batcher = model.batcher(capacity=2)
        return await asyncio.gather(*(frame(batcher, v) for v in range(5)))

    asyncio.run(scenario())

    assert sorted(count for _, count in model.version.runs) == [1, 2, 2]


def test_a_fixed_batch_size_always_runs_full_tensors():
    model = Model(FakeVersion(max_batch=4, delay_ms=30, fixed_batch=4))

    async def scenario():
        batcher = model.batcher(capacity=2)  # a stream's own: still the model's size
        return await asyncio.gather(*(frame(batcher, v) for v in range(3)))

    asyncio.run(scenario())

    assert model.version.runs == [(4, 3)]


def test_a_batch_that_finds_several_free_sessions_is_split_over_them():
    version = FakeVersion(max_batch=8, instances=2)
    model = Model(version)

    async def scenario():
        batcher = model.batcher()
        return await asyncio.gather(*(frame(batcher, v) for v in range(8)))

    results = asyncio.run(scenario())

    assert sorted(count for _, count in version.runs) == [4, 4]
    assert [tags for tags, _ in results] == [[f"A:{v}"] for v in range(8)]
    assert (model.stats.batches, model.stats.frames) == (2, 8)


@pytest.mark.parametrize(
    "version",
    [
        FakeVersion(max_batch=4, instances=2, fixed_batch=4),
        FakeVersion(max_batch=4, instances=2, preferred=(4,)),
    ],
    ids=["fixed batch size", "preferred sizes"],
)
def test_batches_of_models_that_want_their_sizes_are_not_split(version):
    model = Model(version)

    async def scenario():
        batcher = model.batcher()
        return await asyncio.gather(*(frame(batcher, v) for v in range(4)))

    asyncio.run(scenario())

    assert [count for _, count in version.runs] == [4]
