"""Plugins that misbehave as badly as Python allows, loaded by dotted path."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

from lva_extension import Frame, Processor, inferences
from lva_extension.proto.inferencing_pb2 import Inference


class _Nothing(Processor):
    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        return [[] for _ in frames]


class ExitsInConstructor(_Nothing):
    def __init__(self) -> None:
        raise SystemExit(3)


class InterruptsInConstructor(_Nothing):
    def __init__(self) -> None:
        raise KeyboardInterrupt


class GeneratorExitInConstructor(_Nothing):
    def __init__(self) -> None:
        raise GeneratorExit


class ExitsInProcess(Processor):
    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        raise SystemExit(4)


class ExitsInClose(_Nothing):
    def close(self) -> None:
        raise SystemExit(5)


class ShrinksItsFile(Processor):
    """Truncates the shared-memory file ``path`` to nothing, then reads its frame."""

    def __init__(self, path: str) -> None:
        self.path = path

    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        os.truncate(self.path, 0)
        return [[inferences.classification(str(int(f.image.sum())))] for f in frames]


class NeverReturns(Processor):
    """A model stuck for good: process() never returns (it sleeps in a thread).

    With ``entered``, it first writes that file: the test knows a frame is inside.
    """

    def __init__(self, entered: str = "") -> None:
        self.entered = entered

    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        if self.entered:
            Path(self.entered).write_text("entered")
        threading.Event().wait()
        return [[] for _ in frames]


class BigReplies(Processor):
    """Tags every frame with 32 KiB of text: replies that fill a client's window fast."""

    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        return [[inferences.classification("x" * 32_768)] for _ in frames]
