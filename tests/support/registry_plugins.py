"""Processors for the registry's tests: loaded by dotted path, each fails in one way."""

from __future__ import annotations

from collections.abc import Sequence

from lva_extension import Frame, Processor
from lva_extension.errors import FailedPrecondition
from lva_extension.proto.inferencing_pb2 import Inference

NOT_A_CLASS = 3


class _Nothing(Processor):
    def process(self, frames: Sequence[Frame]) -> list[list[Inference]]:
        return [[] for _ in frames]


class Served(_Nothing):
    """Like the ONNX processor: ``path`` and ``workers`` are the operator's to set."""

    operator_options = frozenset({"path", "workers"})

    def __init__(self, path: str = "", workers: int = 1, threshold: int = 0) -> None:
        self.path, self.workers, self.threshold = path, workers, threshold


class Family:
    """A processor reached through an attribute path: ``Family.Member``."""

    class Member(_Nothing):
        pass


class BrokenModel(_Nothing):
    """Raises the server's own error: the stream ends with that status and message."""

    def __init__(self) -> None:
        raise FailedPrecondition("model 'm' is broken: its graph has no input")


class LongComplaint(_Nothing):
    """Refuses its option with a message far longer than a status should carry."""

    def __init__(self, size: int = 1) -> None:
        raise ValueError(f"size {size} is wrong: " + "x" * 300)


class Crashes(_Nothing):
    """A constructor with a bug."""

    def __init__(self) -> None:
        raise RuntimeError("index out of range in the plugin")
