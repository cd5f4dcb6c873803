"""Cascades (LVA's ai-composition topology): a second extension after a first.

The upstream extension's inferences arrive with each sample; the processor
sees them as Frame.inferences, and may return them, filtered or enriched,
with its own. What it does not return is not passed on.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import grpc
import numpy as np
from lva_extension import Frame, Processor, inferences
from lva_extension.proto.inferencing_pb2 import Inference

from tests.support.streams import descriptor, raw_call, sample

WIDTH, HEIGHT = 64, 48


class Received(Processor):
    """Records the upstream inferences of every frame; returns nothing."""

    seen: dict[int, list[Inference]] = {}
    _lock = threading.Lock()

    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        with self._lock:
            for frame in frames:
                Received.seen[frame.timestamp] = list(frame.inferences)
        return [[] for _ in frames]


class BrightPeople(Processor):
    """Keeps the upstream "person" entities, each enriched with the brightness
    of its box in the frame, and adds one classification that refers to them."""

    thread_safe = True

    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        return [self._one(frame) for frame in frames]

    def _one(self, frame: Frame) -> list[Inference]:
        height, width = frame.image.shape[:2]
        out: list[Inference] = []
        for upstream in frame.inferences:
            if upstream.WhichOneof("value") != "entity" or upstream.entity.tag.value != "person":
                continue
            box = upstream.entity.box
            crop = frame.image[
                round(box.t * height) : round((box.t + box.h) * height),
                round(box.l * width) : round((box.l + box.w) * width),
            ]
            enriched = Inference()
            enriched.CopyFrom(upstream)
            level = "bright" if crop.mean() >= 128 else "dark"
            enriched.entity.attributes.add(name="brightness", value=level, confidence=1.0)
            out.append(enriched)
        summary = inferences.classification(f"{len(out)} people", subtype="count")
        summary.related_inferences.extend(i.inference_id for i in out)
        return [*out, summary]


def frame_bytes() -> bytes:
    """Left half black, right half white."""
    image = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    image[:, WIDTH // 2 :] = 255
    return image.tobytes()


def upstream_inferences(sequence: int) -> list[Inference]:
    left = inferences.entity("person", (0.0, 0.0, 0.25, 0.5), 0.9, subtype="objects")
    left.inference_id = f"left-{sequence}"
    right = inferences.entity("person", (0.75, 0.5, 0.25, 0.5), 0.8, subtype="objects")
    right.inference_id = f"right-{sequence}"
    car = inferences.entity("car", (0.5, 0.5, 0.1, 0.1), 0.7, subtype="objects")
    car.inference_id = f"car-{sequence}"
    motion = inferences.motion((0.1, 0.1, 0.2, 0.2))
    return [left, car, right, motion]


def samples_with_inferences(count: int):
    for sequence in range(2, 2 + count):
        message = sample(sequence, frame_bytes())
        message.media_sample.inferences.extend(upstream_inferences(sequence))
        yield message


def test_upstream_inferences_reach_the_processor(server):
    Received.seen.clear()
    messages = [
        descriptor(WIDTH, HEIGHT, configuration="tests.extension.stream.test_cascade:Received"),
        *samples_with_inferences(5),
    ]
    outcome = raw_call(server.address, messages)

    assert outcome.code == grpc.StatusCode.OK
    assert sorted(Received.seen) == [s * 3000 for s in range(2, 7)]
    for timestamp, received in Received.seen.items():
        assert received == upstream_inferences(timestamp // 3000)
    # Returned nothing: nothing is passed on.
    assert all(not m.media_sample.inferences for m in outcome.responses[1:])


def test_a_processor_returns_them_filtered_and_enriched(server):
    messages = [
        descriptor(WIDTH, HEIGHT, configuration="tests.extension.stream.test_cascade:BrightPeople"),
        *samples_with_inferences(4),
    ]
    outcome = raw_call(server.address, messages)

    assert outcome.code == grpc.StatusCode.OK
    acks = outcome.responses[1:]
    assert sorted(m.ack_sequence_number for m in acks) == [2, 3, 4, 5]
    for message in acks:
        sequence = message.ack_sequence_number
        left, right, summary = message.media_sample.inferences
        assert [left.inference_id, right.inference_id] == [f"left-{sequence}", f"right-{sequence}"]
        assert left.entity.tag.value == right.entity.tag.value == "person"
        assert left.entity.box == upstream_inferences(sequence)[0].entity.box
        assert [(a.name, a.value) for a in left.entity.attributes] == [("brightness", "dark")]
        assert [(a.name, a.value) for a in right.entity.attributes] == [("brightness", "bright")]
        assert summary.classification.tag.value == "2 people"
        assert list(summary.related_inferences) == [f"left-{sequence}", f"right-{sequence}"]


def test_a_processor_that_ignores_them_does_not_pass_them_on(server):
    messages = [descriptor(WIDTH, HEIGHT), *samples_with_inferences(2)]  # colorIntensity
    outcome = raw_call(server.address, messages)

    assert outcome.code == grpc.StatusCode.OK
    for message in outcome.responses[1:]:
        (only,) = message.media_sample.inferences
        assert only.subtype == "colorIntensity"
