"""The processor contract: the one seam where a user's model plugs in.

A processor is created once per stream, with the options of the stream's
``extension_configuration`` as keyword arguments, and then turns batches of
frames into inferences, one list per frame::

    from lva_extension import Frame, Processor, inferences

    class Brightness(Processor):
        def __init__(self, threshold: float = 100.0) -> None:
            self.threshold = threshold

        def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
            return [
                [inferences.classification("bright" if f.image.mean() > self.threshold else "dim")]
                for f in frames
            ]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..proto.inferencing_pb2 import Inference


@dataclass(frozen=True)
class Frame:
    """One video frame as a processor sees it."""

    image: np.ndarray
    """RGB, uint8, shape (height, width, 3), read-only. With shared memory it is a
    view of the client's buffer, valid only until process() returns: copy it to
    keep it."""

    timestamp: int
    """Presentation time, in the stream's timescale units (usually 90 kHz)."""

    inferences: Sequence[Inference] = ()
    """Inferences that arrived with the sample (from an upstream extension)."""


class Processor(ABC):
    """Turns a batch of frames into one list of Inference messages per frame."""

    thread_safe: ClassVar[bool] = False
    """True if process() may run for several batches of one stream at once.
    Leave False for stateful processors: their batches then run one at a time,
    in order."""

    @abstractmethod
    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        """Return exactly one list of inferences (possibly empty) per frame."""

    operator_options: ClassVar[frozenset[str]] = frozenset()
    """Options only the server's configuration (``defaultProcessor``) may set, never a
    stream's ``extension_configuration``: file paths and resources, say."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Called once when the stream ends."""
