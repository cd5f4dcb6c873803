"""Direct-method failures, answered the way the LVA module answers them.

LVA reports errors in the OData error schema, inside the direct-method result::

    {"status": 409, "payload": {"error": {"code": "GraphTopologyInUse", "message": "...",
                                          "details": [{"code", "target", "message"}]}}}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorDetail:
    code: str
    message: str
    target: str = ""

    def to_json(self) -> dict[str, str]:
        out = {"code": self.code, "message": self.message}
        if self.target:
            out["target"] = self.target
        return out


class MethodError(Exception):
    """An expected failure of a direct method: a status, an OData code and a message."""

    def __init__(
        self, status: int, code: str, message: str, details: Sequence[ErrorDetail] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = tuple(details)

    def payload(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = [d.to_json() for d in self.details]
        return {"error": error}

    def __str__(self) -> str:
        text = f"{self.status} {self.code}: {self.message}"
        for detail in self.details:
            text += f"; {detail.code} at {detail.target or '$'}: {detail.message}"
        return text


def bad_request(message: str, code: str = "BadRequest") -> MethodError:
    return MethodError(400, code, message)


def invalid_resource(details: Sequence[ErrorDetail]) -> MethodError:
    return MethodError(400, "InvalidResource", "The resource format is invalid.", details)


def graph_validation(details: Sequence[ErrorDetail]) -> MethodError:
    return MethodError(400, "GraphValidationError", "The graph is not valid.", details)


def module_validation(details: Sequence[ErrorDetail]) -> MethodError:
    return MethodError(
        400, "ModuleValidationError", "The graph cannot run on this module.", details
    )


def not_found(kind: str, name: str) -> MethodError:
    return MethodError(404, "NotFound", f"The {kind} '{name}' was not found.")


def conflict(code: str, message: str) -> MethodError:
    return MethodError(409, code, message)
