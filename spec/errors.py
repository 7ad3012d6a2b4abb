"""Errors raised by the spec package, and the one JSON error shape they map to.

    SpecError                  base class; ``code`` is a stable string
    ├── SpecLoadError          the OpenAPI document is missing, unreadable or unsupported
    │   └── DocumentError      any OpenAPI document: unreadable, or a pointer or $ref dangles (``source``)
    └── RequestError           a request body breaks the contract (carries ``problems``)
        ├── BodyError          the body is not JSON, or not a JSON object
        └── ValidationError    one or more fields break their schema or a cross-field rule

Every ``RequestError`` turns into the spec's ``ErrorResponse`` with
:meth:`RequestError.to_body`: ``{"status": "error", "message": ..., "errors": [...]}``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable

__all__ = [
    "MISSING",
    "BodyError",
    "DocumentError",
    "Problem",
    "RequestError",
    "SpecError",
    "SpecLoadError",
    "ValidationError",
    "error_body",
    "show_value",
]


class _Missing:
    """Marks 'no value' where ``None`` is a legitimate JSON value (null)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()

_MAX_SHOWN = 80


def show_value(value: Any) -> str:
    """Render a JSON value for a message, as the client sent it, cut to a readable length."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 1] + "…"
    return text


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule: which field (a dotted path, '' for the whole body), which rule, and why."""

    field: str
    rule: str
    message: str
    value: Any = MISSING

    def to_dict(self) -> dict[str, Any]:
        item: dict[str, Any] = {"field": self.field, "rule": self.rule, "message": self.message}
        if self.value is not MISSING:
            item["value"] = self.value
        return item


def error_body(message: str, problems: Iterable[Problem] = (), **extra: Any) -> dict[str, Any]:
    """Build the spec's ``ErrorResponse`` body."""
    body: dict[str, Any] = {"status": "error", "message": message}
    items = [p.to_dict() for p in problems]
    if items:
        body["errors"] = items
    body.update(extra)
    return body


class SpecError(Exception):
    """Base class of every error this package raises."""

    code = "spec_error"


class SpecLoadError(SpecError):
    code = "spec_load"


class DocumentError(SpecLoadError):
    """An OpenAPI document (any, not only this contract) cannot be read, or a pointer or $ref in it dangles."""

    code = "document"

    def __init__(self, message: str, source: str = "") -> None:
        super().__init__(message)
        self.source = source


class RequestError(SpecError):
    """A request that breaks the contract. ``str(err)`` is the client-facing message."""

    code = "invalid_request"

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("a RequestError needs at least one problem")
        super().__init__("; ".join(p.message for p in self.problems))

    @property
    def message(self) -> str:
        return str(self)

    @property
    def field(self) -> str:
        """The first offending field, for callers that show only one."""
        return self.problems[0].field

    def to_body(self) -> dict[str, Any]:
        return error_body(self.message, self.problems)


class BodyError(RequestError):
    code = "invalid_body"


class ValidationError(RequestError):
    code = "invalid_field"
