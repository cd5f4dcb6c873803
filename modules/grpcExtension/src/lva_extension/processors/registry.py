"""Finding a stream's processor from its ``extension_configuration``.

``extension_configuration`` may be empty (the ``defaultProcessor``), a
registered name, a dotted path ``package.module:Class``, or a JSON object
``{"processor": <name or path>, ...options}`` whose other keys become the
processor's keyword arguments. Registered names are the built-ins below and
the entry points of the group ``lva_extension.processors``; all are imported
only when a stream asks for them.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Any

from .. import files
from ..errors import ExtensionError, Internal, InvalidArgument, quote, shorten
from .base import Processor
from .rules import LoadingRules

log = logging.getLogger(__name__)

NO_PATHS = LoadingRules()  # registered names only

ENTRY_POINT_GROUP = "lva_extension.processors"

BUILTIN_PROCESSORS: dict[str, str] = {
    "colorIntensity": "lva_extension.processors.color_intensity:ColorIntensity",
    "motion": "lva_extension.processors.motion:MotionDetector",
    "onnx": "lva_extension.processors.onnx:OnnxProcessor",
}


@dataclass(frozen=True)
class ProcessorSpec:
    """What a stream asked for: a processor name or path, and its options."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)
    stream_keys: frozenset[str] = field(default=frozenset(), compare=False)
    """The options that came from the stream's extension_configuration (the others
    from defaultProcessor): a stream may not set a processor's operator_options."""


def read_configuration(text: str, source: str) -> dict[str, Any]:
    """A configuration as a dict: empty -> {}, a name -> {"processor": name}, JSON -> itself."""
    text = text.strip()
    if not text:
        return {}
    if text[0] not in "{[":
        return {"processor": text}
    try:
        document = json.loads(text)
    except RecursionError:
        raise InvalidArgument(f"{source}: JSON nested too deeply") from None
    except ValueError as error:  # JSONDecodeError, or an integer of thousands of digits
        raise InvalidArgument(f"{source}: not valid JSON ({shorten(str(error))})") from None
    if not isinstance(document, dict):
        raise InvalidArgument(f"{source}: expected a JSON object")
    name = document.get("processor", "")
    if "processor" in document and (not isinstance(name, str) or not name.strip()):
        raise InvalidArgument(
            f'{source}: "processor" must be a non-empty string, got {quote(name)}'
        )
    if isinstance(name, str) and name.strip():
        document["processor"] = name.strip()
    return document


def merge_configurations(stream: Mapping[str, Any], default: Mapping[str, Any]) -> ProcessorSpec:
    """The processor a stream gets: its own, or the default refined by its options."""
    fallback_name = default.get("processor", "")
    fallback = ProcessorSpec(fallback_name, {k: v for k, v in default.items() if k != "processor"})
    if not stream:
        return fallback
    name = stream.get("processor", fallback_name)
    options = {k: v for k, v in stream.items() if k != "processor"}
    keys = frozenset(options)
    # defaultProcessor's options also apply to streams that choose the same
    # processor, under their own.
    if name == fallback.name:
        return ProcessorSpec(name, {**fallback.options, **options}, keys)
    return ProcessorSpec(name, options, keys)


def parse_configuration(configuration: str, default: str) -> ProcessorSpec:
    """The processor for a stream's extension_configuration, given defaultProcessor."""
    return merge_configurations(
        read_configuration(configuration, "extension_configuration"),
        read_configuration(default, "defaultProcessor"),
    )


@functools.cache
def known_processors() -> Mapping[str, str]:
    """Registered names -> "module:attribute", built-ins first.

    Entry points are read once per process (scanning the installed
    distributions takes milliseconds): install a plugin, then restart.
    """
    known = dict(BUILTIN_PROCESSORS)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        known.setdefault(entry.name, entry.value)
    return MappingProxyType(known)


def _import(name: str, target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    try:
        value: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            value = getattr(value, part)
    except (ImportError, AttributeError) as error:
        raise InvalidArgument(
            f"processor {quote(name)} cannot be loaded: {quote(str(error))}"
        ) from None
    except BaseException as error:  # its top-level code raised, or called sys.exit()
        log.error("importing processor %s failed", quote(name), exc_info=True)
        raise InvalidArgument(
            f"processor {quote(name)} cannot be loaded: its import raised {type(error).__name__}"
        ) from None
    return value


def resolve_processor_class(name: str, rules: LoadingRules) -> type[Processor]:
    """The class a stream's processor name stands for, imported if the rules allow it."""
    known = known_processors()
    if name in known:
        target = known[name]
    elif ":" in name:
        target = rules.check_path(name, ", ".join(sorted(known)))
    else:
        paths = " or a dotted path package.module:Class" if rules.allow_paths else ""
        raise InvalidArgument(
            f"unknown processor {quote(name)}; known processors: {', '.join(sorted(known))}{paths}"
        )
    cls = _import(name, target)
    if not (isinstance(cls, type) and issubclass(cls, Processor)):
        raise InvalidArgument(f"processor {quote(name)} ({target}) is not a Processor subclass")
    return cls


def create_processor(spec: ProcessorSpec, rules: LoadingRules = NO_PATHS) -> Processor:
    """Import and configure the processor a stream asked for.

    Whatever the plugin's import or constructor raises ends only this stream:
    SystemExit and KeyboardInterrupt included (a plugin must not stop the server).
    """
    cls = resolve_processor_class(spec.name, rules)
    refused = sorted(spec.stream_keys & cls.operator_options)
    if refused:
        raise InvalidArgument(
            f"extension_configuration: a stream cannot set {', '.join(refused)} of processor"
            f" {quote(spec.name)} (files and resources are the server's: defaultProcessor); it"
            ' chooses a model of the model repository by name: {"model": NAME}'
        )
    try:
        with files.using(rules.models):
            return cls(**spec.options)
    except ExtensionError:
        raise
    except (TypeError, ValueError) as error:
        message = shorten(str(error))
        raise InvalidArgument(f"processor {quote(spec.name)} options: {message}") from None
    except BaseException as error:
        log.error("processor %s could not be created", quote(spec.name), exc_info=True)
        raise Internal(
            f"processor {quote(spec.name)} could not be created: {type(error).__name__}"
            " (see the server log)"
        ) from None
