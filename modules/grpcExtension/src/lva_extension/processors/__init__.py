"""Processors: the seam where a user's model plugs in.

``base`` is the whole contract (Frame, Processor); ``registry`` finds a
stream's processor by name, entry point or dotted path. The built-ins
(``color_intensity``, ``motion``, ``onnx/``) are imported only when chosen.
"""

from .base import Frame, Processor
from .registry import (
    ProcessorSpec,
    create_processor,
    known_processors,
    parse_configuration,
    resolve_processor_class,
)
from .rules import LoadingRules

__all__ = [
    "Frame",
    "LoadingRules",
    "Processor",
    "ProcessorSpec",
    "create_processor",
    "known_processors",
    "parse_configuration",
    "resolve_processor_class",
]
