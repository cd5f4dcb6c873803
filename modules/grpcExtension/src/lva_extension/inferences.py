"""Build Inference messages, and render them as the inference JSON LVA publishes.

Builders take plain Python values and clamp boxes into the 0..1 range the
contract requires::

    inferences.classification("dark", confidence=1.0, subtype="colorIntensity")
    inferences.entity("person", box=(0.1, 0.2, 0.3, 0.4), confidence=0.87)
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .proto import inferencing_pb2

Inference = inferencing_pb2.Inference
InferenceType = Inference.InferenceType
Box = tuple[float, float, float, float]  # left, top, width, height as fractions

_TYPE_OF_VALUE = {
    "classification": InferenceType.CLASSIFICATION,
    "motion": InferenceType.MOTION,
    "entity": InferenceType.ENTITY,
    "text": InferenceType.TEXT,
    "event": InferenceType.EVENT,
    "other": InferenceType.OTHER,
}
_VALUE_OF_TYPE = {kind: value for value, kind in _TYPE_OF_VALUE.items()}


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


# --- the inference JSON of LVA's IoT Hub messages ---------------------------


def to_message(timestamp: int, inferences: Sequence[Inference]) -> dict[str, Any] | None:
    """The IoT Hub message for one frame, or None: LVA sends none without inferences."""
    if not inferences:
        return None
    return {"timestamp": timestamp, "inferences": [inference_to_json(i) for i in inferences]}


def _number(x: float) -> float:
    # Protobuf floats are 32-bit: print 0.9, not 0.8999999761581421.
    return float(f"{x:.7g}")


def _tag_json(tag: inferencing_pb2.Tag) -> dict[str, Any]:
    out: dict[str, Any] = {"value": tag.value}
    out["confidence"] = _number(tag.confidence)
    return out


def _attributes_json(attributes: Iterable[inferencing_pb2.Attribute]) -> list[dict[str, Any]]:
    return [
        {"name": a.name, "value": a.value, "confidence": _number(a.confidence)} for a in attributes
    ]


def _box_json(box: inferencing_pb2.Rectangle) -> dict[str, float]:
    return {"l": _number(box.l), "t": _number(box.t), "w": _number(box.w), "h": _number(box.h)}


def _value_json(inference: Inference, kind: str) -> dict[str, Any]:
    out: dict[str, Any]
    if kind == "classification":
        out = {"tag": _tag_json(inference.classification.tag)}
        if inference.classification.attributes:
            out["attributes"] = _attributes_json(inference.classification.attributes)
        return out
    if kind == "entity":
        value = inference.entity
        out = {"tag": _tag_json(value.tag), "box": _box_json(value.box)}
        if value.id:
            out["id"] = value.id
        if value.attributes:
            out["attributes"] = _attributes_json(value.attributes)
        return out
    if kind == "motion":
        return {"box": _box_json(inference.motion.box)} if inference.motion.HasField("box") else {}
    if kind == "event":
        return {"name": inference.event.name, "properties": dict(inference.event.properties)}
    if kind == "text":
        value_text = inference.text
        out = {"value": value_text.value}
        if value_text.language:
            out["language"] = value_text.language
        if value_text.start_timestamp:
            out["startTimestamp"] = value_text.start_timestamp
        if value_text.end_timestamp:
            out["endTimestamp"] = value_text.end_timestamp
        return out
    other = inference.other
    out = {}
    if other.content_type:
        out["contentType"] = other.content_type
    if other.content_bytes:
        out["contentBytes"] = base64.b64encode(other.content_bytes).decode()
    return out


def inference_to_json(inference: Inference) -> dict[str, Any]:
    """One Inference in the camelCase JSON form of LVA's inference schema."""
    kind = inference.WhichOneof("value") or _VALUE_OF_TYPE.get(inference.type, "other")
    out: dict[str, Any] = {"type": kind}
    if inference.subtype.strip():
        out["subtype"] = inference.subtype.strip()
    if inference.inference_id:
        out["inferenceId"] = inference.inference_id
    if inference.related_inferences:
        out["relatedInferences"] = list(inference.related_inferences)
    if inference.extensions:
        out["extensions"] = dict(inference.extensions)
    out[kind] = _value_json(inference, kind)
    return out
