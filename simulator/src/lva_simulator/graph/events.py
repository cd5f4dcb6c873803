"""The IoT Hub message sink: each inference message as one JSON line.

A line is what an IoT Hub monitor shows for a message LVA publishes: the body
in the inference schema (``{"timestamp", "inferences"}``), the application
properties LVA sets, and the module output it was sent to::

    {"body": {...}, "applicationProperties": {"topic", "subject", "eventType",
     "eventTime", "dataVersion"}, "outputName": "inferenceOutput"}
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from lva_extension.client.inference_json import to_message
from lva_extension.proto.inferencing_pb2 import Inference

from ..times import now_iso

EVENT_TYPE = "Microsoft.Media.Graph.Analytics.Inference"
TOPIC = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/lva-simulator"
    "/providers/microsoft.media/mediaservices/lva-simulator"
)


@dataclass(frozen=True)
class InferenceEvent:
    instance: str
    node: str  # the extension node that produced it
    timestamp: int  # presentation time, 90 kHz
    inferences: Sequence[Inference]


def message(event: InferenceEvent, output_name: str) -> dict[str, Any] | None:
    """The message LVA publishes for one frame's inferences (None: it publishes none)."""
    body = to_message(event.timestamp, event.inferences)
    if body is None:
        return None
    return {
        "body": body,
        "applicationProperties": {
            "topic": TOPIC,
            "subject": f"/graphInstances/{event.instance}/processors/{event.node}",
            "eventType": EVENT_TYPE,
            "eventTime": now_iso(),
            "dataVersion": "1.0",
        },
        "outputName": output_name,
    }


class MessageWriter:
    """Appends JSON lines to a file, or writes them to stdout ("-")."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._out: TextIO | None = None
        self.written = 0

    def _stream(self) -> TextIO:
        if self._out is None:
            if self.target == "-":
                self._out = sys.stdout
            else:
                Path(self.target).parent.mkdir(parents=True, exist_ok=True)
                self._out = open(self.target, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        return self._out

    def publish(self, event: InferenceEvent, output_name: str) -> None:
        line = message(event, output_name)
        if line is None:
            return
        out = self._stream()
        out.write(json.dumps(line, separators=(",", ":")) + "\n")
        out.flush()
        self.written += 1

    def close(self) -> None:
        if self._out is not None and self._out is not sys.stdout:
            self._out.close()
        self._out = None
