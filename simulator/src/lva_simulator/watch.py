"""``lva-simulator events``: the module's JSON lines, one readable line per message.

With ``--follow`` it waits for new lines (like ``tail -f``) until interrupted
(Ctrl+C or SIGTERM); at the end it prints how many messages it saw and at
what rate they were published.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

POLL_SECONDS = 0.1


class _Stop(Exception):
    pass


def _box(box: dict[str, Any]) -> str:
    return "[{:.2f} {:.2f} {:.2f} {:.2f}]".format(*(box.get(k, 0) for k in "ltwh"))


def describe_inference(inference: dict[str, Any]) -> str:
    kind = inference.get("type", "other")
    value = inference.get(kind) or {}
    tag = value.get("tag") or {}
    if kind == "classification":
        text = f"{tag.get('value')} ({tag.get('confidence', 0):.2f})"
    elif kind == "entity":
        text = (
            f"{tag.get('value')} ({tag.get('confidence', 0):.2f}) at {_box(value.get('box') or {})}"
        )
    elif kind == "motion":
        text = f"at {_box(value['box'])}" if value.get("box") else ""
    elif kind == "event":
        text = str(value.get("name"))
    elif kind == "text":
        text = repr(value.get("value"))
    else:
        text = str(value.get("contentType", ""))
    subtype = f"/{inference['subtype']}" if inference.get("subtype") else ""
    return f"{kind}{subtype}: {text}".rstrip(": ")


def describe(number: int, message: dict[str, Any]) -> str:
    """One line for one message: count, graph instance and node, then what it says.

    Inference messages show their media time and inferences; operational and
    diagnostic events their type and body (a recording's location, an error).
    """
    body = message.get("body", message)
    properties = message.get("applicationProperties") or {}
    subject = str(properties.get("subject", ""))
    where = subject.replace("/graphInstances/", "") or "?"
    for section in ("/sources/", "/processors/", "/sinks/"):
        where = where.replace(section, "/")
    event_type = str(properties.get("eventType", ""))
    if event_type and not event_type.endswith(".Inference"):
        kind = event_type.rsplit(".", 1)[-1]
        if "sdp" in body:
            details = "(SDP of the camera's session)"
        else:
            details = " ".join(f"{k}={v}" for k, v in body.items() if k != "message")
            if body.get("message"):
                details += f" ({body['message']})"
        return f"#{number:<5} {where}  {kind}  {details}".rstrip()
    seconds = int(body.get("timestamp", 0)) / 90_000
    inferences = "; ".join(describe_inference(i) for i in body.get("inferences", []))
    return f"#{number:<5} {where}  t={seconds:9.3f}s  {inferences}"


def _event_time(message: dict[str, Any]) -> float | None:
    text = (message.get("applicationProperties") or {}).get("eventTime")
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass
class Tally:
    count: int = 0
    first: float | None = None
    last: float | None = None

    def add(self, message: dict[str, Any]) -> None:
        self.count += 1
        moment = _event_time(message) or time.time()
        self.first = moment if self.first is None else self.first
        self.last = moment

    def summary(self) -> str:
        if self.count < 2 or self.first is None or self.last is None or self.last <= self.first:
            return f"{self.count} message(s)"
        span = self.last - self.first
        rate = (self.count - 1) / span
        return f"{self.count} messages in {span:.1f} s ({rate:.1f} per second)"


def _lines(stream: TextIO, follow: bool) -> Iterator[str]:
    partial = ""
    while True:
        chunk = stream.readline()
        if chunk:
            partial += chunk
            if partial.endswith("\n"):
                yield partial
                partial = ""
        elif not follow:
            if partial:
                yield partial
            return
        else:
            time.sleep(POLL_SECONDS)


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def watch(path: Path, follow: bool, out: TextIO = sys.stdout) -> Tally:
    tally = Tally()
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        while follow and not path.exists():
            time.sleep(POLL_SECONDS)
        with open(path, encoding="utf-8") as stream:
            for line in _lines(stream, follow):
                try:
                    message = json.loads(line)
                except json.JSONDecodeError:
                    continue  # not a message (a log line in a shared stream)
                if not isinstance(message, dict):
                    continue
                tally.add(message)
                print(describe(tally.count, message), file=out, flush=True)
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return tally
