"""The inference JSON LVA publishes to IoT Hub, rendered from Inference messages.

Field names are camelCase, and the result follows LVA's inference data schema
(tests/data/schemas): one message per frame with inferences, none without.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from typing import Any

from ..proto import inferencing_pb2

Inference = inferencing_pb2.Inference
_VALUE_OF_TYPE = {
    Inference.InferenceType.CLASSIFICATION: "classification",
    Inference.InferenceType.MOTION: "motion",
    Inference.InferenceType.ENTITY: "entity",
    Inference.InferenceType.TEXT: "text",
    Inference.InferenceType.EVENT: "event",
    Inference.InferenceType.OTHER: "other",
}


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
