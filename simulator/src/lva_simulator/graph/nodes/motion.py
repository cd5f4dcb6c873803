"""MediaGraphMotionDetectionProcessor: motion events, and only the frames with motion.

The detector is the extension's ``motion`` processor (background subtraction
on a downscaled grey frame; ``sensitivity`` low, medium or high), one per
node, so the simulator and the extension find the same regions.

For each frame with motion the node publishes an inference event with one
``motion`` inference per region (``outputMotionRegion`` false: one inference
without a box) and passes the frame on with those inferences attached;
frames without motion go no further, as in LVA. ``eventAggregationWindow``
(ISO 8601; absent or zero: no aggregation) publishes at most one event per
window, the first frame with motion in it; the frames still all go on.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from fractions import Fraction

from lva_extension import Frame
from lva_extension.processors.motion import MotionDetector
from lva_extension.proto.inferencing_pb2 import Inference

from ..events import inference_body
from ..media import PICTURES, Item, Picture, ticks
from ..node import Node, NodeContext
from ..observer import AnalyzedFrame
from ..properties import Reader

log = logging.getLogger(__name__)
SENSITIVITIES = ("Low", "Medium", "High")


@dataclass(frozen=True)
class MotionSpec:
    sensitivity: str  # low, medium or high
    output_region: bool
    aggregation: Fraction  # seconds; 0 = every frame with motion publishes


def parse(node: Reader) -> MotionSpec:
    sensitivity = node.choice("sensitivity", SENSITIVITIES, "Medium").lower()
    output_region = node.flag("outputMotionRegion", True)
    aggregation = Fraction(0)
    if node.present("eventAggregationWindow"):
        aggregation = node.duration("eventAggregationWindow", low=Fraction(0), high=Fraction(3600))
    return MotionSpec(sensitivity, output_region, aggregation)


class MotionDetection(Node):
    wants = frozenset({PICTURES})

    def __init__(self, spec: MotionSpec, context: NodeContext) -> None:
        super().__init__(context)
        self.spec = spec
        self.detector = MotionDetector(sensitivity=spec.sensitivity)
        self._window_start: Fraction | None = None
        self._moving = False

    def _detect(self, picture: Picture) -> list[Inference]:
        frame = Frame(picture.rgb, ticks(picture.time))
        return self.detector.process([frame])[0]

    async def receive(self, item: Item, sender: str) -> None:
        if not isinstance(item, Picture):
            return
        context = self.context
        context.counters.frames_in += 1
        found = await asyncio.to_thread(self._detect, item)
        # Every frame it looked at, with its regions: a live view shows where motion is.
        context.observer.frame_analyzed(
            AnalyzedFrame(
                context.instance, self.name, item.time, context.counters.frames_in, item.rgb, found
            )
        )
        if bool(found) != self._moving:  # one log line per burst of motion, not per frame
            self._moving = bool(found)
            state = "starts" if found else "ends"
            log.info("%s/%s: motion %s at %.3f s", context.instance, self.name, state, item.time)
        if not found:
            return
        if not self.spec.output_region:
            found = [Inference(type=Inference.InferenceType.MOTION)]
        else:  # LVA's motion inferences carry no subtype
            for inference in found:
                inference.subtype = ""
        window = self.spec.aggregation
        start = self._window_start
        if start is None or window == 0 or item.time - start >= window:
            self._window_start = item.time
            body = inference_body(ticks(item.time), found)
            if body is not None:
                await context.emit(context.event(item.time, body))
        context.counters.passed()
        await context.emit(Picture(item.time, item.rgb, (*item.inferences, *found)))
