"""A stream served by a model of the repository: its frames go into the model's batches.

For each batch of the stream (``batchSize`` frames, usually one) the runner
reserves slots in the model's batcher, then on a thread (or on the event loop,
once fills have proven cheaper than ``inlineProcessingMs``) reads each sample,
fits its frame into its slot and lets go of its bytes, and awaits the
results. The bytes are read only before the frame's result exists, so they
are always done with before the sample is acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from concurrent.futures import Executor
from typing import Any

from ..frames import FrameFormat
from ..frames.resize import Placement
from ..models import ModelBatcher, ModelVersion, ServedModel
from ..models.batcher import Slot
from ..processors.onnx.decoders import Decoder
from ..transports import Transport
from .pipeline import Batch, BatchResult, read_sample, release

log = logging.getLogger(__name__)


class ModelRunner:
    """Runs a stream's batches through a model of the repository."""

    thread_safe = True  # frames go through side by side; acknowledgements keep their order

    def __init__(
        self,
        transport: Transport,
        fmt: FrameFormat,
        model: ServedModel,
        batcher: ModelBatcher,
        options: Mapping[str, Any],
        executor: Executor,
        max_frame_pixels: int,
        inline_seconds: float = 0.0,
    ) -> None:
        self.transport = transport
        self.format = fmt
        self.model = model
        self.batcher = batcher
        self.options = dict(options)
        self._executor = executor
        self._max_frame_pixels = max_frame_pixels
        self._decoder: tuple[ModelVersion, Decoder] | None = None
        self._work: set[asyncio.Future[list[Placement]]] = set()
        self._inline_seconds = inline_seconds
        self._fill_cost = float("inf")  # seconds a fill takes, averaged; unknown at first

    async def process(self, batch: Batch) -> BatchResult:
        started = time.perf_counter()
        reservation = await self.batcher.reserve(len(batch), self._decoder_for)
        if self._fill_cost < self._inline_seconds:
            # As LocalRunner: handing a fill this cheap to a thread and back costs
            # more than the fill.
            try:
                placements = self._fill(batch, reservation.slots)
            except BaseException:
                reservation.filled(None)
                raise
            reservation.filled(placements)
        else:
            work = asyncio.get_running_loop().run_in_executor(
                self._executor, self._fill, batch, reservation.slots
            )
            self._work.add(work)
            work.add_done_callback(self._work.discard)
            reservation.filling(work)
            # Shielded: a cancelled stream must not close its transport under a fill.
            await asyncio.shield(work)
        outcomes = await reservation.results()
        return BatchResult(
            [inferences for inferences, _ in outcomes],
            sum(failed for _, failed in outcomes),
            time.perf_counter() - started,
        )

    def _fill(self, batch: Batch, slots: list[Slot]) -> list[Placement]:
        """Each sample's frame into its slot; its bytes let go at once (on a thread)."""
        started = time.perf_counter()
        placements = []
        for (sequence, sample), slot in zip(batch, slots, strict=True):
            buffers, image = read_sample(
                self.transport, self.format, sequence, sample, self._max_frame_pixels
            )
            try:
                placements.append(slot.fitter.fit_into(image, slot.tensor))
            finally:
                del image
                for buffer in buffers:
                    release(buffer)
        # A moving average, so that one slow fill (a cold cache) does not flip the choice.
        took = time.perf_counter() - started
        previous = self._fill_cost
        self._fill_cost = took if previous == float("inf") else 0.9 * previous + 0.1 * took
        return placements

    def _decoder_for(self, version: ModelVersion) -> Decoder:
        """This stream's decoder for a version of its model (its own options applied)."""
        if self._decoder is None or self._decoder[0] is not version:
            try:
                decoder = version.decoder_for(self.options)
            except (TypeError, ValueError) as error:
                # The model changed under the stream and no longer takes its options.
                log.warning(
                    "model %s: a stream's options %s no longer apply (%s); it gets the model's own",
                    version.name,
                    self.options,
                    error,
                )
                decoder = version.decoder
            self._decoder = (version, decoder)
        return self._decoder[1]

    async def close(self) -> None:
        # A cancelled stream may still have a fill on a thread reading the mapping.
        if self._work:
            await asyncio.wait(set(self._work))
        self.transport.close()
