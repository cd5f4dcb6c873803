"""What the LVA module publishes, one JSON line per message.

A line is what an IoT Hub monitor shows for a message from the module: the
body, the application properties LVA sets, and the module output it left on::

    {"body": {...}, "applicationProperties": {"topic", "subject", "eventType",
     "eventTime", "dataVersion"}, "outputName": "inferenceOutput"}

Three kinds, as in LVA (monitoring-logging.md):

- analytics (``Microsoft.Media.Graph.Analytics.Inference``): leave through the
  IoT Hub message sinks of the graph, on each sink's ``hubOutputName``;
- operational (``...Operational.RecordingStarted`` ...) and diagnostics
  (``...Diagnostics.MediaSessionEstablished``, errors): leave on the outputs the
  module twin names in ``operationalEventsOutputName`` and
  ``diagnosticsEventsOutputName``; an empty name publishes nothing.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from lva_extension.client.inference_json import to_message
from lva_extension.proto.inferencing_pb2 import Inference

from ..times import now_iso
from .observer import GraphObserver, NullObserver

log = logging.getLogger(__name__)

PREFIX = "Microsoft.Media.Graph."
INFERENCE = f"{PREFIX}Analytics.Inference"
TOPIC = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/lva-simulator"
    "/providers/microsoft.media/mediaservices/lva-simulator"
)
Section = Literal["sources", "processors", "sinks"]
Category = Literal["Operational", "Diagnostics"]


def subject(instance: str, section: str | None = None, node: str | None = None) -> str:
    """``/graphInstances/{instance}[/{sources|processors|sinks}/{node}]``."""
    path = f"/graphInstances/{instance}"
    return f"{path}/{section}/{node}" if section and node else path


def inference_body(timestamp: int, inferences: Sequence[Inference]) -> dict[str, Any] | None:
    """The body LVA publishes for a frame's inferences (None: it publishes nothing)."""
    return to_message(timestamp, inferences)


def message(body: dict[str, Any], where: str, event_type: str, output: str) -> dict[str, Any]:
    return {
        "body": body,
        "applicationProperties": {
            "topic": TOPIC,
            "subject": where,
            "eventType": event_type,
            "eventTime": now_iso(),
            "dataVersion": "1.0",
        },
        "outputName": output,
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

    def write(self, line: dict[str, Any]) -> None:
        out = self._stream()
        out.write(json.dumps(line, separators=(",", ":")) + "\n")
        out.flush()
        self.written += 1

    def close(self) -> None:
        if self._out is not None and self._out is not sys.stdout:
            self._out.close()
        self._out = None


@dataclass(frozen=True)
class EventOutputs:
    """The module twin's output names for operational and diagnostic events ("" = off)."""

    operational: str = "AmsOperational"
    diagnostics: str = "AmsDiagnostics"


class Publisher:
    """Every message of every instance: to the sink's JSON lines and to the observer."""

    def __init__(
        self,
        writer: MessageWriter,
        outputs: EventOutputs | None = None,
        observer: GraphObserver | None = None,
    ) -> None:
        self.writer = writer
        self.outputs = outputs or EventOutputs()
        self.observer: GraphObserver = observer or NullObserver()

    def _send(self, line: dict[str, Any]) -> None:
        self.writer.write(line)
        self.observer.published(line)

    def inference(self, where: str, body: dict[str, Any], output: str) -> None:
        self._send(message(body, where, INFERENCE, output))

    def module_event(self, category: Category, kind: str, where: str, body: dict[str, Any]) -> None:
        """An operational or diagnostic event (``kind``: RecordingStarted, NetworkError, ...)."""
        output = self.outputs.operational if category == "Operational" else self.outputs.diagnostics
        log.info("%s %s %s", where, kind, _brief(body))
        if output:
            self._send(message(body, where, f"{PREFIX}{category}.{kind}", output))


def _brief(body: dict[str, Any]) -> str:
    if "sdp" in body:
        return "(sdp)"
    return " ".join(f"{key}={value}" for key, value in body.items())
