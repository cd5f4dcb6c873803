"""Processors used by the tests, loaded by the server through dotted paths."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

from lva_extension import Frame, Processor, inferences
from lva_extension.proto.inferencing_pb2 import Inference


class ChannelMeans(Processor):
    """Tags each frame with "R,G,B,WxH": its rounded channel means and size."""

    thread_safe = True

    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        out = []
        for frame in frames:
            r, g, b = (round(float(frame.image[:, :, c].mean())) for c in range(3))
            h, w = frame.image.shape[:2]
            out.append([inferences.classification(f"{r},{g},{b},{w}x{h}", subtype="means")])
        return out


class BatchRecorder(Processor):
    """Tags each frame with its own timestamp and records every batch's timestamps."""

    batches: list[list[int]] = []
    _lock = threading.Lock()

    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        with self._lock:
            BatchRecorder.batches.append([f.timestamp for f in frames])
        return [
            [
                inferences.classification(
                    str(f.timestamp), attributes=[("batch", str(len(frames)), 1)]
                )
            ]
            for f in frames
        ]


class FailEveryThird(Processor):
    """Raises on every third frame of a stream (batch size 1); tags the others "ok"."""

    def __init__(self) -> None:
        self.seen = 0

    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        self.seen += 1
        if self.seen % 3 == 0:
            raise RuntimeError("model exploded on purpose")
        return [[inferences.classification("ok")] for _ in frames]


class WrongCount(Processor):
    """A buggy processor: returns no result list at all."""

    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        return []


class Nothing(Processor):
    """No inferences for any frame."""

    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        return [[] for _ in frames]


class NotAProcessor:
    pass


class WhereAndHowMany(Processor):
    """Tags each frame "pid/n": the process that ran it, and how many frames this
    instance has seen (state that must stay with the stream)."""

    def __init__(self) -> None:
        self.seen = 0

    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        out = []
        for _ in frames:
            self.seen += 1
            out.append([inferences.classification(f"{os.getpid()}/{self.seen}")])
        return out


class DieOnThirdFrame(Processor):
    """Ends its whole process on the third frame, as a crashing native library would."""

    def __init__(self) -> None:
        self.seen = 0

    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        self.seen += len(frames)
        if self.seen >= 3:
            os._exit(3)
        return [[] for _ in frames]


class Gate(Processor):
    """Blocks its first batch until the test opens the gate; tags frames "through"."""

    entered = threading.Event()
    release = threading.Event()

    @classmethod
    def reset(cls) -> None:
        cls.entered.clear()
        cls.release.clear()

    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        Gate.entered.set()
        Gate.release.wait(30)
        return [[inferences.classification("through")] for _ in frames]
