"""Which code (and which files) a stream may make the server load: the operator's decision.

A client names its processor in ``extension_configuration``. Registered names
(built-ins, installed entry points) and the operator's own ``defaultProcessor``
are always loadable. A dotted path ``package.module:Class`` is loadable only
with ``allowProcessorPaths`` on, and only from modules under the prefixes the
operator lists in ``allowedProcessorModules``. The name is checked here, as
text, before anything is imported: importing a module runs its top-level code.
Files a processor's options name come from ``modelDir`` only (see files.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import InvalidArgument, quote
from ..files import FileRoom
from ..settings import Settings, is_dunder, parse_module_prefixes

_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = re.compile(rf"^{_IDENTIFIER}(?:\.{_IDENTIFIER})*:{_IDENTIFIER}(?:\.{_IDENTIFIER})*$")


def _dunder_part(dotted: str) -> bool:
    # __main__ runs a program when imported; other dunder parts (__init__,
    # __globals__) reach objects that no processor is.
    return any(is_dunder(part) for part in dotted.split("."))


@dataclass(frozen=True)
class LoadingRules:
    """What dotted paths a stream may name; picklable for processing processes."""

    allow_paths: bool = False
    allowed_modules: tuple[str, ...] = ()
    trusted: frozenset[str] = field(default_factory=frozenset)  # defaultProcessor
    models: FileRoom = field(default_factory=lambda: FileRoom("", 0, 0))  # files streams may name

    @classmethod
    def of(cls, settings: Settings, default_name: str) -> LoadingRules:
        """The rules the settings set; ``default_name`` is the defaultProcessor's name."""
        return cls(
            settings.allow_processor_paths,
            parse_module_prefixes(settings.allowed_processor_modules),
            frozenset({default_name}),
            FileRoom(
                settings.model_dir,
                settings.max_model_file_mib * (1 << 20),
                settings.model_read_seconds,
            ),
        )

    def check_path(self, name: str, known: str) -> str:
        """The ``module:attribute`` to import for ``name``, or InvalidArgument saying why not.

        ``known`` lists the registered names for the messages.
        """
        if not _DOTTED.match(name):
            raise InvalidArgument(
                f"processor {quote(name)}: expected a registered name ({known})"
                " or a dotted path package.module:Class"
            )
        module, _, attribute = name.partition(":")
        if _dunder_part(module) or _dunder_part(attribute):
            raise InvalidArgument(
                f"processor {quote(name)} is not allowed: __main__ and other dunder"
                " names are never loaded"
            )
        if name in self.trusted:
            return name
        if not self.allow_paths:
            raise InvalidArgument(
                f"processor {quote(name)} is not allowed: this server loads no dotted paths"
                f" (allowProcessorPaths=false); known processors: {known}"
            )
        if not any(module == p or module.startswith(p + ".") for p in self.allowed_modules):
            raise InvalidArgument(
                f"processor {quote(name)} is not allowed: dotted paths may name modules under"
                f" {', '.join(self.allowed_modules)} (allowedProcessorModules)"
            )
        return name
