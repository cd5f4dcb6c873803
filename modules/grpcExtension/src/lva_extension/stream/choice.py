"""What serves a stream: a processor, or a model of the repository.

A stream's ``extension_configuration`` (refining ``defaultProcessor``) names
a processor (``"motion"``, ``{"processor": "onnx", "topK": 3}``) or a model
of the repository (``{"model": "detector", "scoreThreshold": 0.5}``): a
``"model"`` key without ``"processor"`` means the repository. A model is a
name, never a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..processors import ProcessorSpec
from ..processors.registry import merge_configurations, read_configuration


@dataclass(frozen=True)
class ModelRequest:
    """A stream asks for a model of the repository, with options of its own."""

    model: object  # what the stream wrote; the repository checks it is a name it knows
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"model {str(self.model)[:100]}"


def _names_model(document: Mapping[str, Any]) -> bool:
    return "model" in document and "processor" not in document


def choose(configuration: str, default: str) -> ProcessorSpec | ModelRequest:
    """What serves a stream with this configuration, given defaultProcessor."""
    stream = read_configuration(configuration, "extension_configuration")
    fallback = read_configuration(default, "defaultProcessor")
    if _names_model(stream):
        options = dict(stream)
        return ModelRequest(options.pop("model"), options)
    if "processor" not in stream and _names_model(fallback):
        # The default is a model: the stream's options refine it (only the
        # options the model lets streams set are accepted).
        options = {k: v for k, v in fallback.items() if k != "model"}
        return ModelRequest(fallback["model"], {**options, **stream})
    return merge_configurations(stream, fallback)
