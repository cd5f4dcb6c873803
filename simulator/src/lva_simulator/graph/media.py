"""What travels along a graph's edges: media, events and marks.

Times are media time in seconds (``Fraction``): the camera's presentation time,
continuous across reconnects, the same clock for every node of an instance.

- ``Packet``: encoded video exactly as the camera sent it (sinks remux these);
- ``Picture``: a decoded RGB frame, with the inferences attached to it upstream
  (motion detection and extensions read these);
- ``Event``: something a node found at a media time: an inference message
  (motion, an extension) or an IoT Hub message (hub source); gates open on them;
- ``Mark``: where a stretch of media begins or ends: a camera session
  (``session``), or a gate activation (``open``/``close``); sinks cut files there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

import numpy as np
from lva_extension.proto.inferencing_pb2 import Inference

TIMESCALE = 90_000  # LVA's timestamps: 90 kHz


def ticks(time: Fraction) -> int:
    """Media time on LVA's 90 kHz clock."""
    return round(time * TIMESCALE)


@dataclass(frozen=True, eq=False)
class Session:
    """One connection to the camera: what a sink needs to write its packets."""

    number: int  # 1 for the first connection, then 2, 3, ... after each reconnect
    codec: str
    width: int
    height: int
    time_base: Fraction
    # A stream to copy codec parameters (SPS/PPS) from, kept alive after the
    # camera's container is closed (an unopened PyAV output stream).
    template: Any = field(repr=False)
    sdp: str = field(default="", repr=False)
    extradata: bytes = field(default=b"", repr=False)  # the codec's parameter sets

    def same_codec(self, other: Session) -> bool:
        """Whether packets of ``other`` may go on in a file begun with this session's."""
        mine = (self.codec, self.width, self.height, self.time_base, self.extradata)
        return mine == (other.codec, other.width, other.height, other.time_base, other.extradata)


@dataclass(frozen=True, eq=False, slots=True)
class Packet:
    time: Fraction  # presentation time
    data: bytes
    keyframe: bool
    session: Session
    decode_time: Fraction | None = None  # when the container says (B-frames come early)


@dataclass(frozen=True, eq=False, slots=True)
class Picture:
    time: Fraction
    rgb: np.ndarray  # (height, width, 3) uint8
    inferences: tuple[Inference, ...] = ()


@dataclass(frozen=True, eq=False, slots=True)
class Event:
    time: Fraction
    node: str  # the node that published it
    section: Literal["sources", "processors", "sinks"]
    body: dict[str, Any]  # the message body as LVA publishes it


@dataclass(frozen=True, slots=True)
class Mark:
    kind: Literal["session", "open", "close"]
    time: Fraction
    session: Session | None = None  # for "session"


Media = Packet | Picture
Item = Packet | Picture | Event | Mark

# What a node can ask its inputs for.
Kind = Literal["packets", "pictures", "events"]
PACKETS: Kind = "packets"
PICTURES: Kind = "pictures"
EVENTS: Kind = "events"


def kind_of(item: Item) -> Kind | None:
    if isinstance(item, Packet):
        return PACKETS
    if isinstance(item, Picture):
        return PICTURES
    if isinstance(item, Event):
        return EVENTS
    return None  # marks go wherever packets go
