"""Build Inference messages: the values a processor returns.

Builders take plain Python values and clamp boxes into the 0..1 range the
contract requires::

    inferences.classification("dark", confidence=1.0, subtype="colorIntensity")
    inferences.entity("person", box=(0.1, 0.2, 0.3, 0.4), confidence=0.87)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .proto import inferencing_pb2

Inference = inferencing_pb2.Inference
InferenceType = Inference.InferenceType
Box = tuple[float, float, float, float]  # left, top, width, height as fractions


def _clamp(x: float) -> float:
    return min(1.0, max(0.0, float(x)))


def rectangle(box: Box) -> inferencing_pb2.Rectangle:
    left, top = _clamp(box[0]), _clamp(box[1])
    return inferencing_pb2.Rectangle(
        l=left, t=top, w=min(_clamp(box[2]), 1.0 - left), h=min(_clamp(box[3]), 1.0 - top)
    )


def _tag(value: str, confidence: float) -> inferencing_pb2.Tag:
    return inferencing_pb2.Tag(value=value, confidence=_clamp(confidence))


def _attributes(attributes: Iterable[tuple[str, str, float]]) -> list[inferencing_pb2.Attribute]:
    return [
        inferencing_pb2.Attribute(name=name, value=value, confidence=_clamp(confidence))
        for name, value, confidence in attributes
    ]


def classification(
    tag: str,
    confidence: float = 1.0,
    subtype: str = "",
    attributes: Iterable[tuple[str, str, float]] = (),
) -> Inference:
    return Inference(
        type=InferenceType.CLASSIFICATION,
        subtype=subtype,
        classification=inferencing_pb2.Classification(
            tag=_tag(tag, confidence), attributes=_attributes(attributes)
        ),
    )


def entity(
    tag: str,
    box: Box,
    confidence: float = 1.0,
    subtype: str = "",
    entity_id: str = "",
    attributes: Iterable[tuple[str, str, float]] = (),
) -> Inference:
    return Inference(
        type=InferenceType.ENTITY,
        subtype=subtype,
        entity=inferencing_pb2.Entity(
            tag=_tag(tag, confidence),
            box=rectangle(box),
            id=entity_id,
            attributes=_attributes(attributes),
        ),
    )


def motion(box: Box, subtype: str = "motion") -> Inference:
    return Inference(
        type=InferenceType.MOTION,
        subtype=subtype,
        motion=inferencing_pb2.Motion(box=rectangle(box)),
    )


def event(name: str, properties: Mapping[str, str] | None = None, subtype: str = "") -> Inference:
    return Inference(
        type=InferenceType.EVENT,
        subtype=subtype,
        event=inferencing_pb2.Event(name=name, properties=dict(properties or {})),
    )


def text(value: str, language: str = "", subtype: str = "") -> Inference:
    return Inference(
        type=InferenceType.TEXT,
        subtype=subtype,
        text=inferencing_pb2.Text(value=value, language=language),
    )
