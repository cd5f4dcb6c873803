"""One loaded version of a model: its ONNX Runtime sessions, its input, its decoders.

Loading is slow and runs off the event loop. A version never changes: when
its folder changes the repository loads a new one, and batches already
formed finish on the old one (they hold it), while new frames go to the new.
"""

from __future__ import annotations

import logging
import os
import queue
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ..processors.onnx.decoders import Decoder
from ..processors.onnx.fitting import Fitter
from ..processors.onnx.session import (
    ModelInput,
    model_input,
    open_session,
    output_name,
    provider_names,
    resolve_providers,
    run_frames,
)
from .config import BatchingPolicy, ModelConfig

log = logging.getLogger(__name__)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def session_layout(instances: int, threads: int, cores: int) -> tuple[int, int]:
    """(sessions run side by side, intra-op threads each); 0 means "choose".

    Unset, one single-threaded session per core: on a CPU that beat one
    session with a thread per core (bench/sessions.py), and threads that never
    wait for each other leave the cores to whoever needs them.
    """
    if not instances:
        instances = max(1, cores // threads) if threads else cores
    if not threads:
        threads = max(1, cores // instances)
    return instances, threads


class Ran(NamedTuple):
    """A batch's run: one output per frame, when it started (monotonic), how long it took."""

    outputs: list[np.ndarray]
    started: float
    seconds: float


@dataclass(frozen=True)
class Shapes:
    """The model's tensors as ONNX Runtime reports them, for ``lva-extension models``."""

    inputs: list[tuple[str, str, list[Any]]]
    outputs: list[tuple[str, str, list[Any]]]


class ModelVersion:
    """A model loaded from its folder, ready to run batches."""

    def __init__(self, config: ModelConfig, fingerprint: object, cores: int) -> None:
        started = time.perf_counter()
        self.config = config
        self.name = config.name
        self.fingerprint = fingerprint
        options = config.options
        self.instances, self.threads = session_layout(config.instances, options.threads, cores)
        self.providers = resolve_providers(options.providers)
        model = config.read_model()
        first = open_session(model, self.providers, self.threads)
        sessions = [first] + [
            open_session(model, self.providers, self.threads) for _ in range(self.instances - 1)
        ]
        del model
        self.decoder = options.make_decoder()
        self.input: ModelInput = model_input(first, options.layout, options.input_size)
        self.output = output_name(first, options.output, self.decoder, self.input.batched)
        self.fitter = Fitter(self.input, options)
        self.batching = _settled(config.batching, self.input)
        self.shapes = Shapes(
            [(t.name, t.type, list(t.shape)) for t in first.get_inputs()],
            [(t.name, t.type, list(t.shape)) for t in first.get_outputs()],
        )
        self._sessions: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for session in sessions:
            self._warm_up(session)
            self._sessions.put(session)
        # Batches run on threads of their own, one per session: frames of other
        # streams are read and fitted meanwhile on the server's threads.
        self.executor = ThreadPoolExecutor(self.instances, thread_name_prefix=f"model-{self.name}")
        self.load_seconds = time.perf_counter() - started

    def _warm_up(self, session: Any) -> None:
        """One run at the largest batch, so that the first stream does not pay for the
        session's first allocations (and a model that cannot run fails now)."""
        size = self.batching.size
        tensor = self.fitter.allocate(size)
        tensor[...] = 0
        run_frames(session, self.input, self.output, tensor, size)

    def decoder_for(self, options: Mapping[str, Any]) -> Decoder:
        """The decoder for a stream's own options; ValueError if the config refuses them."""
        allowed = self.config.stream_options
        refused = sorted(set(options) - allowed)
        if refused:
            may = ", ".join(sorted(allowed)) or "none"
            raise ValueError(
                f"a stream may not set {', '.join(refused)} (its config's streamOptions: {may})"
            )
        if not options:
            return self.decoder
        return self.config.options.with_options(options).make_decoder()

    def run(self, tensor: np.ndarray, count: int) -> Ran:
        """The model's output for each of the first ``count`` frames of ``tensor``."""
        session = self._sessions.get()  # never waits: at most `instances` batches run
        started = time.monotonic()
        try:
            outputs = run_frames(session, self.input, self.output, tensor, count)
        finally:
            self._sessions.put(session)
        return Ran(outputs, started, time.monotonic() - started)

    def close(self) -> None:
        """No new batches: let the running ones finish, then free the threads."""
        self.executor.shutdown(wait=False)

    def describe(self) -> str:
        return (
            f"{self.instances} session(s) x {self.threads} thread(s)"
            f" on {', '.join(provider_names(self.providers))}"
        )


def _settled(policy: BatchingPolicy, model: ModelInput) -> BatchingPolicy:
    """The policy with the batch size the model allows."""
    fixed = model.max_batch
    if fixed is None:
        return policy.fixed(policy.size)
    if policy.max_batch_size not in (None, fixed):
        reason = "has no batch dimension" if not model.batched else f"takes batches of {fixed}"
        raise ValueError(
            f"batching.maxBatchSize {policy.max_batch_size}: the model {reason};"
            f" leave it out or set {fixed}"
        )
    return policy.fixed(fixed)


def batch_target(policy: BatchingPolicy, capacity: int) -> int:
    """The size at which a batch goes without waiting for its queue delay."""
    preferred = [p for p in policy.preferred_batch_sizes if p <= capacity]
    return max(preferred) if preferred else capacity
