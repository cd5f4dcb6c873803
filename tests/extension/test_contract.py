"""The wire contract of CONTRACT.md: names, field numbers and types; fresh generated code."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf.descriptor import FieldDescriptor as F
from lva_extension.proto import extension_pb2, inferencing_pb2, media_pb2

from tests.support.paths import REPO

PACKAGE = "microsoft.azure.media.live_video_analytics.extensibility.grpc.v1"

# (message, field, number, type) exactly as CONTRACT.md lists them.
FIELDS = [
    (extension_pb2.MediaStreamMessage, "sequence_number", 1, F.TYPE_UINT64),
    (extension_pb2.MediaStreamMessage, "ack_sequence_number", 2, F.TYPE_UINT64),
    (extension_pb2.MediaStreamMessage, "media_stream_descriptor", 5, F.TYPE_MESSAGE),
    (extension_pb2.MediaStreamMessage, "media_sample", 6, F.TYPE_MESSAGE),
    (extension_pb2.MediaStreamDescriptor, "graph_identifier", 1, F.TYPE_MESSAGE),
    (extension_pb2.MediaStreamDescriptor, "extension_identifier", 2, F.TYPE_STRING),
    (extension_pb2.MediaStreamDescriptor, "extension_configuration", 3, F.TYPE_STRING),
    (extension_pb2.MediaStreamDescriptor, "media_descriptor", 5, F.TYPE_MESSAGE),
    (
        extension_pb2.MediaStreamDescriptor,
        "shared_memory_buffer_transfer_properties",
        10,
        F.TYPE_MESSAGE,
    ),
    (extension_pb2.MediaSample, "timestamp", 1, F.TYPE_UINT64),
    (extension_pb2.MediaSample, "content_bytes", 5, F.TYPE_MESSAGE),
    (extension_pb2.MediaSample, "content_reference", 6, F.TYPE_MESSAGE),
    (extension_pb2.MediaSample, "inferences", 10, F.TYPE_MESSAGE),
    (extension_pb2.GraphIdentifier, "media_services_arm_id", 1, F.TYPE_STRING),
    (extension_pb2.GraphIdentifier, "graph_instance_name", 2, F.TYPE_STRING),
    (extension_pb2.GraphIdentifier, "graph_node_name", 3, F.TYPE_STRING),
    (extension_pb2.SharedMemoryBufferTransferProperties, "handle_name", 1, F.TYPE_STRING),
    (extension_pb2.SharedMemoryBufferTransferProperties, "length_bytes", 2, F.TYPE_UINT64),
    (media_pb2.MediaDescriptor, "timescale", 1, F.TYPE_UINT32),
    (media_pb2.MediaDescriptor, "video_frame_sample_format", 5, F.TYPE_MESSAGE),
    (media_pb2.VideoFrameSampleFormat, "encoding", 1, F.TYPE_ENUM),
    (media_pb2.VideoFrameSampleFormat, "pixel_format", 2, F.TYPE_ENUM),
    (media_pb2.VideoFrameSampleFormat, "dimensions", 3, F.TYPE_MESSAGE),
    (media_pb2.VideoFrameSampleFormat, "stride_bytes", 4, F.TYPE_UINT32),
    (media_pb2.Dimensions, "width", 1, F.TYPE_UINT32),
    (media_pb2.Dimensions, "height", 2, F.TYPE_UINT32),
    (media_pb2.ContentBytes, "bytes", 1, F.TYPE_BYTES),
    (media_pb2.ContentReference, "address_offset", 1, F.TYPE_UINT64),
    (media_pb2.ContentReference, "length_bytes", 2, F.TYPE_UINT64),
    (inferencing_pb2.Inference, "type", 1, F.TYPE_ENUM),
    (inferencing_pb2.Inference, "subtype", 2, F.TYPE_STRING),
    (inferencing_pb2.Inference, "inference_id", 3, F.TYPE_STRING),
    (inferencing_pb2.Inference, "related_inferences", 4, F.TYPE_STRING),
    (inferencing_pb2.Inference, "classification", 5, F.TYPE_MESSAGE),
    (inferencing_pb2.Inference, "motion", 6, F.TYPE_MESSAGE),
    (inferencing_pb2.Inference, "entity", 7, F.TYPE_MESSAGE),
    (inferencing_pb2.Inference, "text", 8, F.TYPE_MESSAGE),
    (inferencing_pb2.Inference, "event", 9, F.TYPE_MESSAGE),
    (inferencing_pb2.Inference, "other", 13, F.TYPE_MESSAGE),
    (inferencing_pb2.Inference, "sequence_id", 14, F.TYPE_STRING),
    (inferencing_pb2.Inference, "extensions", 15, F.TYPE_MESSAGE),
    (inferencing_pb2.Classification, "tag", 1, F.TYPE_MESSAGE),
    (inferencing_pb2.Classification, "attributes", 2, F.TYPE_MESSAGE),
    (inferencing_pb2.Motion, "box", 1, F.TYPE_MESSAGE),
    (inferencing_pb2.Entity, "tag", 1, F.TYPE_MESSAGE),
    (inferencing_pb2.Entity, "attributes", 2, F.TYPE_MESSAGE),
    (inferencing_pb2.Entity, "box", 3, F.TYPE_MESSAGE),
    (inferencing_pb2.Entity, "id", 4, F.TYPE_STRING),
    (inferencing_pb2.Text, "value", 1, F.TYPE_STRING),
    (inferencing_pb2.Text, "language", 2, F.TYPE_STRING),
    (inferencing_pb2.Text, "start_timestamp", 5, F.TYPE_UINT64),
    (inferencing_pb2.Text, "end_timestamp", 6, F.TYPE_UINT64),
    (inferencing_pb2.Event, "name", 1, F.TYPE_STRING),
    (inferencing_pb2.Event, "properties", 7, F.TYPE_MESSAGE),
    (inferencing_pb2.InferenceOther, "content_type", 1, F.TYPE_STRING),
    (inferencing_pb2.InferenceOther, "content_bytes", 2, F.TYPE_BYTES),
    (inferencing_pb2.Attribute, "name", 1, F.TYPE_STRING),
    (inferencing_pb2.Attribute, "value", 2, F.TYPE_STRING),
    (inferencing_pb2.Attribute, "confidence", 3, F.TYPE_FLOAT),
    (inferencing_pb2.Tag, "value", 2, F.TYPE_STRING),
    (inferencing_pb2.Tag, "confidence", 3, F.TYPE_FLOAT),
    (inferencing_pb2.Rectangle, "l", 1, F.TYPE_FLOAT),
    (inferencing_pb2.Rectangle, "t", 2, F.TYPE_FLOAT),
    (inferencing_pb2.Rectangle, "w", 3, F.TYPE_FLOAT),
    (inferencing_pb2.Rectangle, "h", 4, F.TYPE_FLOAT),
]


@pytest.mark.parametrize(
    ("message", "name", "number", "kind"), FIELDS, ids=lambda v: getattr(v, "__name__", str(v))
)
def test_field_numbers_and_types(message, name, number, kind):
    field = message.DESCRIPTOR.fields_by_name[name]
    assert (field.number, field.type) == (number, kind)


def test_messages_have_no_fields_beyond_the_contract():
    listed: dict[str, set[str]] = {}
    for message, name, _, _ in FIELDS:
        listed.setdefault(message.DESCRIPTOR.full_name, set()).add(name)
    for full_name, names in listed.items():
        descriptor = extension_pb2.DESCRIPTOR.pool.FindMessageTypeByName(full_name)
        assert {f.name for f in descriptor.fields} == names, full_name
    assert 1 not in inferencing_pb2.Tag.DESCRIPTOR.fields_by_number


def test_service_path_and_files():
    service = extension_pb2.DESCRIPTOR.services_by_name["MediaGraphExtension"]
    method = service.methods_by_name["ProcessMediaStream"]
    assert service.full_name == f"{PACKAGE}.MediaGraphExtension"
    assert method.client_streaming and method.server_streaming
    assert extension_pb2.DESCRIPTOR.name == "extension.proto"
    assert [d.name for d in extension_pb2.DESCRIPTOR.dependencies] == [
        "inferencing.proto",
        "media.proto",
    ]
    assert media_pb2.DESCRIPTOR.package == inferencing_pb2.DESCRIPTOR.package == PACKAGE


@pytest.mark.parametrize(
    ("enum", "values"),
    [
        (media_pb2.VideoFrameSampleFormat.Encoding, {"BMP": 0, "JPG": 1, "PNG": 2, "RAW": 3}),
        (
            media_pb2.VideoFrameSampleFormat.PixelFormat,
            {
                "NONE": 0,
                "YUV420P": 20,
                "RGB565BE": 40,
                "RGB565LE": 41,
                "RGB555BE": 42,
                "RGB555LE": 43,
                "RGB24": 60,
                "BGR24": 61,
                "ARGB": 80,
                "RGBA": 81,
                "ABGR": 82,
                "BGRA": 83,
            },
        ),
        (
            inferencing_pb2.Inference.InferenceType,
            {
                "AUTO": 0,
                "CLASSIFICATION": 1,
                "MOTION": 2,
                "ENTITY": 3,
                "TEXT": 4,
                "EVENT": 5,
                "OTHER": 15,
            },
        ),
    ],
)
def test_enums(enum, values):
    assert dict(enum.items()) == values


def test_generated_code_is_fresh(tmp_path: Path):
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "generate_protos.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    committed = REPO / "modules" / "grpcExtension" / "src" / "lva_extension" / "proto"
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(p.name for p in committed.iterdir() if p.name != "__pycache__")
    _, mismatch, errors = filecmp.cmpfiles(tmp_path, committed, names, shallow=False)
    assert (mismatch, errors) == ([], []), "run: python scripts/generate_protos.py"
