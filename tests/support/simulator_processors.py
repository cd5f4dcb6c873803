"""A processor for the simulator's end-to-end tests, loaded by dotted path."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence

from lva_extension import Frame, Processor, inferences
from lva_extension.proto.inferencing_pb2 import Inference

HOLD_SECONDS = 0.02


class HoldAndCheck(Processor):
    """colorIntensity's answer, after holding each frame and checking it did not change.

    With shared memory a frame is a view of the client's ring: if the client
    wrote a new frame into a region before the sample's ack, the bytes change
    while the frame is held, and the frame's timestamp lands in ``overwritten``.
    """

    thread_safe = True  # several frames held at once: more pressure on the ring
    checked: list[int] = []
    overwritten: list[int] = []
    _lock = threading.Lock()

    @classmethod
    def reset(cls) -> None:
        with cls._lock:
            cls.checked.clear()
            cls.overwritten.clear()

    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        out = []
        for frame in frames:
            before = hashlib.sha256(frame.image.tobytes()).digest()
            time.sleep(HOLD_SECONDS)
            after = hashlib.sha256(frame.image.tobytes()).digest()
            rgb = frame.image.astype("float32")
            luma = float((0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]).mean())
            with self._lock:
                self.checked.append(frame.timestamp)
                if before != after:
                    self.overwritten.append(frame.timestamp)
            tag = "dark" if luma < 127 else "light"
            out.append([inferences.classification(tag, 1.0, subtype="heldAndChecked")])
        return out
