"""The inference JSON LVA publishes to IoT Hub, validated against its schema."""

from __future__ import annotations

import json

import jsonschema
import pytest
from lva_extension import inferences
from lva_extension.client import ClientOptions, StreamFormat, inference_json
from lva_extension.client.clips import dark_light_frames
from lva_extension.proto import inferencing_pb2

from tests.support.paths import DATA
from tests.support.streams import run_client

SCHEMA = json.loads((DATA / "schemas" / "lva-inference-data-schema.json").read_text())


def other() -> inferencing_pb2.Inference:
    inference = inferencing_pb2.Inference(type=inferencing_pb2.Inference.OTHER, subtype="raw")
    inference.other.content_type = "application/octet-stream"
    inference.other.content_bytes = b"\x00\x01"
    return inference


EXAMPLES = {
    "classification": (
        inferences.classification(
            "dark", 0.9, "colorIntensity", attributes=[("source", "cam", 0.5)]
        ),
        {
            "type": "classification",
            "subtype": "colorIntensity",
            "classification": {
                "tag": {"value": "dark", "confidence": 0.9},
                "attributes": [{"name": "source", "value": "cam", "confidence": 0.5}],
            },
        },
    ),
    "entity": (
        inferences.entity("person", (0.1, 0.2, 0.3, 0.4), 0.75, "objectDetection", entity_id="7"),
        {
            "type": "entity",
            "subtype": "objectDetection",
            "entity": {
                "tag": {"value": "person", "confidence": 0.75},
                "box": {"l": 0.1, "t": 0.2, "w": 0.3, "h": 0.4},
                "id": "7",
            },
        },
    ),
    "entity box clamped": (
        inferences.entity("car", (-0.5, 0.9, 2.0, 0.5)),
        {
            "type": "entity",
            "entity": {
                "tag": {"value": "car", "confidence": 1.0},
                "box": {"l": 0.0, "t": 0.9, "w": 1.0, "h": 0.1},
            },
        },
    ),
    "motion": (
        inferences.motion((0.5, 0.5, 0.25, 0.25)),
        {
            "type": "motion",
            "subtype": "motion",
            "motion": {"box": {"l": 0.5, "t": 0.5, "w": 0.25, "h": 0.25}},
        },
    ),
    "event": (
        inferences.event("lineCrossed", {"direction": "in"}, "lineCrossing"),
        {
            "type": "event",
            "subtype": "lineCrossing",
            "event": {"name": "lineCrossed", "properties": {"direction": "in"}},
        },
    ),
    "text": (
        inferences.text("ABC 123", "en", "ocr"),
        {"type": "text", "subtype": "ocr", "text": {"value": "ABC 123", "language": "en"}},
    ),
    "other": (
        other(),
        {
            "type": "other",
            "subtype": "raw",
            "other": {"contentType": "application/octet-stream", "contentBytes": "AAE="},
        },
    ),
}


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_inference_type_renders_as_lva_publishes_it(name):
    inference, expected = EXAMPLES[name]
    message = inference_json.to_message(1234, [inference])
    assert message == {"timestamp": 1234, "inferences": [expected]}
    jsonschema.validate(message, SCHEMA)


def test_frames_without_inferences_publish_nothing():
    assert inference_json.to_message(5, []) is None


def test_auto_type_takes_the_kind_of_its_value():
    inference = inferences.classification("x")
    inference.type = inferencing_pb2.Inference.AUTO
    assert inference_json.inference_to_json(inference)["type"] == "classification"


def test_server_output_validates_against_the_schema(server):
    results, _ = run_client(
        ClientOptions(server.address, StreamFormat(width=32, height=32)),
        dark_light_frames(32, 32, 6),
    )
    for result in results:
        message = inference_json.to_message(result.timestamp, result.inferences)
        jsonschema.validate(message, SCHEMA)
