"""The error answer of a contract: written by servers from its template, read by clients.

Every server builds its errors as the toolkit's one shape (a message plus a list of
problems, each naming a field, a rule and the value: ``spec.error_body``), then
:func:`render_error` writes them in the contract's own shape, from the document's
``x-t2i-wire.error.body`` template. v6 keeps its shape as it is; OpenAI's is
``{"error": {"message", "type", "param", "code"}}``. :func:`read_error` gives a
client the message and the fields an error names, whatever the shape.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .contract import ErrorShape, Wire

__all__ = ["ErrorReading", "read_error", "render_error"]

_PROBLEMS = "{problems}"


def _fill(node: Any, values: dict[str, str], problems: list[dict[str, Any]]) -> Any:
    if isinstance(node, dict):
        return {key: _fill(value, values, problems) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(value, values, problems) for value in node]
    if node == _PROBLEMS:
        return problems
    if isinstance(node, str) and "{" in node:
        for name, value in values.items():
            node = node.replace("{" + name + "}", value)
    return node


def render_error(wire: Wire, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` (the toolkit's error shape: ``message`` and ``errors``) in the contract's shape."""
    problems = [p for p in body.get("errors") or [] if isinstance(p, dict)]
    first = problems[0] if problems else {}
    value = first.get("value")
    values = {"message": str(body.get("message", "")), "field": str(first.get("field") or ""),
              "rule": str(first.get("rule") or ""), "value": "" if value is None else str(value)}
    rendered = _fill(dict(wire.error.body), values, problems)
    # what an answer adds beside the message (``retry_after`` on a 429) stays at the top
    return rendered | {k: v for k, v in body.items() if k not in ("status", "message", "errors")}


@dataclass(frozen=True)
class ErrorReading:
    """What a client learns from an error answer: its message and the fields it names."""

    message: str | None
    fields: tuple[str, ...]


def _at(body: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        if isinstance(key, int) and isinstance(body, list):
            body = body[key] if -len(body) <= key < len(body) else None
        elif isinstance(key, str) and isinstance(body, dict):
            body = body.get(key)
        else:
            return None
    return body


def read_error(shape: ErrorShape, body: Any) -> ErrorReading:
    """The message and named fields of an error body (nothing when it is not the contract's shape)."""
    message = _at(body, shape.message_path)
    fields: list[str] = []
    if shape.field_path is not None:
        named = _at(body, shape.field_path)
        if isinstance(named, str) and named:
            fields.append(named)
    problems = body.get("errors") if isinstance(body, dict) else None
    if isinstance(problems, list):
        fields += [p["field"] for p in problems if isinstance(p, dict) and isinstance(p.get("field"), str)
                   and p["field"]]
    return ErrorReading(message if isinstance(message, str) else None, tuple(dict.fromkeys(fields)))
