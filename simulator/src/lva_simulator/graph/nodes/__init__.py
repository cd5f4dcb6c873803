"""One module per LVA node type; ``TYPES`` maps each ``@type`` (any case) to it.

A node type is its settings parser and its ``Node`` class: a new type is one
new module here and one line below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..node import Node, NodeContext
from ..properties import Reader
from . import (
    asset_sink,
    file_sink,
    frame_rate_filter,
    grpc_extension,
    http_extension,
    hub_sink,
    hub_source,
    motion,
    rtsp_source,
    signal_gate,
)


@dataclass(frozen=True)
class NodeType:
    name: str  # the @type after #Microsoft.Media.
    section: str
    parse: Callable[[Reader], Any]
    create: Callable[[Any, NodeContext], Node]


_ALL = (
    NodeType("MediaGraphRtspSource", "sources", rtsp_source.parse, rtsp_source.RtspSource),
    NodeType("MediaGraphIoTHubMessageSource", "sources", hub_source.parse, hub_source.HubSource),
    NodeType(
        "MediaGraphMotionDetectionProcessor", "processors", motion.parse, motion.MotionDetection
    ),
    NodeType(
        "MediaGraphFrameRateFilterProcessor",
        "processors",
        frame_rate_filter.parse,
        frame_rate_filter.FrameRateFilter,
    ),
    NodeType(
        "MediaGraphGrpcExtension", "processors", grpc_extension.parse, grpc_extension.GrpcExtension
    ),
    # The same wire as the gRPC extension, pointed at whichever server it names.
    NodeType(
        "MediaGraphCognitiveServicesVisionExtension",
        "processors",
        grpc_extension.parse,
        grpc_extension.GrpcExtension,
    ),
    NodeType(
        "MediaGraphHttpExtension", "processors", http_extension.parse, http_extension.HttpExtension
    ),
    NodeType(
        "MediaGraphSignalGateProcessor", "processors", signal_gate.parse, signal_gate.SignalGate
    ),
    NodeType("MediaGraphAssetSink", "sinks", asset_sink.parse, asset_sink.AssetSink),
    NodeType("MediaGraphFileSink", "sinks", file_sink.parse, file_sink.FileSink),
    NodeType("MediaGraphIoTHubMessageSink", "sinks", hub_sink.parse, hub_sink.HubSink),
)
TYPES = {t.name.lower(): t for t in _ALL}
EXTENSIONS = frozenset(
    {
        "MediaGraphGrpcExtension",
        "MediaGraphCognitiveServicesVisionExtension",
        "MediaGraphHttpExtension",
    }
)
