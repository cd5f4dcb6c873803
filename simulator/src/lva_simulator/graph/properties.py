"""Reading a topology's nodes as the LVA module did: names and enum values in any case.

The samples that ran on the real module mix ``tcp``/``Tcp``, ``sharedMemory``/
``SharedMemory`` and ``SharedMemorySizeMiB``/``sharedMemorySizeMiB``, so keys and
enum values are matched case-insensitively here. ``Reader`` reads one node's
properties and collects every problem with its JSON path, so a refusal names
them all at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

Json = dict[str, Any]
MEDIA = "#Microsoft.Media."


class Props(Mapping[str, Any]):
    """A read-only view of a JSON object whose keys match in any case (nested too)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data
        self._keys = {key.lower(): key for key in data}

    def __getitem__(self, key: str) -> Any:
        return _wrap(self._data[self._keys[key.lower()]])

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._keys

    def raw(self) -> Mapping[str, Any]:
        return self._data


def _wrap(value: Any) -> Any:
    if isinstance(value, Props):
        return value
    if isinstance(value, Mapping):
        return Props(value)
    if isinstance(value, list):
        return [_wrap(item) for item in value]
    return value


def props(value: Any) -> Props:
    """``value`` as Props (an empty one when it is not an object)."""
    wrapped = _wrap(value)
    return wrapped if isinstance(wrapped, Props) else Props({})


def node_type(node: Mapping[str, Any]) -> str:
    """The node's ``@type`` without the ``#Microsoft.Media.`` prefix, in the case given."""
    value = props(node).get("@type")
    text = value if isinstance(value, str) else ""
    return text[len(MEDIA) :] if text.lower().startswith(MEDIA.lower()) else text


def nodes(properties: Mapping[str, Any]) -> Iterator[tuple[str, int, Props]]:
    """(section, index, node) for every node, sources first."""
    view = props(properties)
    for section in ("sources", "processors", "sinks"):
        for i, node in enumerate(view.get(section) or []):
            yield section, i, props(node)


def inputs_of(node: Mapping[str, Any]) -> list[str]:
    return [str(props(x).get("nodeName")) for x in props(node).get("inputs") or []]


# --- ISO 8601 durations (PT30S, -PT5S, P1DT2H, PT0.5S) ------------------------------

_DURATION = re.compile(
    r"^(?P<sign>[-+])?P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)


def parse_duration(text: str) -> Fraction:
    """Seconds of an ISO 8601 duration; ValueError when it is not one."""
    match = _DURATION.match(text.strip())
    if not match or text.strip().upper().endswith(("P", "T")):
        raise ValueError(f"expected an ISO 8601 duration such as PT30S, got {text!r}")
    seconds = Fraction(0)
    for unit, factor in (("days", 86400), ("hours", 3600), ("minutes", 60), ("seconds", 1)):
        if match[unit]:
            seconds += Fraction(match[unit]) * factor
    return -seconds if match["sign"] == "-" else seconds


# --- one node's properties ---------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Why a graph cannot run: an OData-style error detail."""

    code: str
    message: str
    target: str = ""


class PlanError(Exception):
    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = list(problems)


class Reader:
    """Typed reads of one node's properties; problems are collected, not raised."""

    def __init__(self, node: Mapping[str, Any], target: str, problems: list[Problem]) -> None:
        self.node = props(node)
        self.name = str(self.node.get("name"))
        self.target = target
        self.problems = problems

    def fail(self, key: str, message: str, code: str = "PropertyValueInvalid") -> None:
        self.problems.append(Problem(code, f"{self.name}: {message}", f"{self.target}.{key}"))

    def child(self, key: str) -> Reader:
        return Reader(props(self.node.get(key)), f"{self.target}.{key}", self.problems)

    def present(self, key: str) -> bool:
        return self.node.get(key) not in (None, "")

    def text(self, key: str, default: str | None = None) -> str:
        value = self.node.get(key, default)
        if not isinstance(value, str):
            self.fail(key, f"{key} is required (a string)", "PropertyRequired")
            return ""
        return value

    def number(self, key: str, default: str | None = None, least: float = 0.0) -> Fraction:
        """A number above ``least`` (LVA writes numbers as strings: "416")."""
        value = self.node.get(key, default)
        try:
            number = Fraction(str(value).strip())
        except (TypeError, ValueError, ZeroDivisionError):
            number = None
        if number is None or number <= least:
            code = "PropertyRequired" if value is None else "PropertyValueInvalid"
            self.fail(key, f"{key}: expected a number above {least:g}, got {value!r}", code)
            return Fraction(1)
        return number

    def integer(self, key: str, default: str | None = None, least: int = 1) -> int:
        value = self.node.get(key, default)
        text = str(value).strip()
        if not re.fullmatch(r"[+-]?\d+", text) or int(text) < least:
            code = "PropertyRequired" if value is None else "PropertyValueInvalid"
            self.fail(key, f"{key}: expected an integer of at least {least}, got {value!r}", code)
            return least
        return int(text)

    def flag(self, key: str, default: bool) -> bool:
        value = self.node.get(key)
        if value is None:
            return default
        text = str(value).strip().lower()
        if text not in ("true", "false"):
            self.fail(key, f"{key}: expected 'true' or 'false', got {value!r}")
        return text == "true"

    def choice(self, key: str, choices: Sequence[str], default: str | None = None) -> str:
        """An enum value, matched in any case; returned as spelled in ``choices``."""
        value = self.node.get(key, default)
        for choice in choices:
            if isinstance(value, str) and value.lower() == choice.lower():
                return choice
        code = "PropertyRequired" if value is None else "PropertyValueInvalid"
        self.fail(key, f"{key}: expected one of {', '.join(choices)}, got {value!r}", code)
        return choices[0]

    def duration(
        self,
        key: str,
        default: str | None = None,
        low: Fraction | None = None,
        high: Fraction | None = None,
    ) -> Fraction:
        value = self.node.get(key, default)
        try:
            seconds = parse_duration(str(value)) if isinstance(value, str) else None
        except ValueError as error:
            self.fail(key, f"{key}: {error}")
            return low or Fraction(0)
        if seconds is None:
            self.fail(
                key, f"{key} is required (an ISO 8601 duration such as PT30S)", "PropertyRequired"
            )
            return low or Fraction(0)
        if (low is not None and seconds < low) or (high is not None and seconds > high):
            self.fail(
                key,
                f"{key}: expected {_seconds(low)} to {_seconds(high)}, got {value!r}",
            )
        return seconds


def _seconds(value: Fraction | None) -> str:
    return "-" if value is None else f"{float(value):g} s"
