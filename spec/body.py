"""Turn raw HTTP body bytes into a JSON object, or a :class:`~spec.errors.BodyError`.

Servers call this before validation so that malformed input (not UTF-8, not JSON,
NaN/Infinity, not an object) gets the same error shape as a bad field. Two more
limits keep a hostile body from failing later, after it was accepted:

- nesting deeper than :data:`MAX_DEPTH` is refused here (Python's own limit is
  reached, unpredictably, when the body is encoded again to be stored or echoed);
- a string holding an unpaired UTF-16 surrogate (``"\\ud800"``) is refused, naming
  its field: no UTF-8 encoder (SQLite, a tokenizer, a JSON writer) can take it.

Both checks cost a C-speed ``count``/``find`` on ordinary bodies.
"""
from __future__ import annotations

import json
import re
from typing import Any

from .errors import BodyError, Problem

__all__ = ["MAX_DEPTH", "parse_json_body"]

#: The deepest nesting of arrays and objects a body may have. The contract's bodies are flat (depth 1).
MAX_DEPTH = 32
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text} is too large")
    return value


def _depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` outside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _bad_strings(value: Any, where: str = "") -> list[Problem]:
    """A problem for every string, key or value, holding an unpaired surrogate; ``where`` is its field."""
    if isinstance(value, str):
        if _is_text(value):
            return []
        name = where or "the request body"
        return [Problem(where, "string", f"{name} must be valid Unicode text, got a string with an unpaired "
                        "UTF-16 surrogate (\\ud800-\\udfff)", value.encode("utf-8", "backslashreplace").decode())]
    problems: list[Problem] = []
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{where}.{key}" if where else key
            if not _is_text(key):
                inner = key.encode("utf-8", "backslashreplace").decode()
                problems.append(Problem(inner, "string", f"the field name {inner} is not valid Unicode text"))
            problems += _bad_strings(item, inner)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problems += _bad_strings(item, f"{where}[{index}]")
    return problems


def parse_json_body(raw: bytes | str) -> dict[str, Any]:
    """Parse a request body that must be a JSON object."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
        if text.count("[") + text.count("{") > MAX_DEPTH and _depth(text) > MAX_DEPTH:
            raise BodyError([Problem("", "depth", f"request body is nested deeper than {MAX_DEPTH} levels "
                                     "of arrays and objects")])
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except UnicodeDecodeError:
        raise BodyError([Problem("", "json", "request body must be UTF-8 encoded JSON")]) from None
    except (ValueError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc) or "too deeply nested"
        raise BodyError([Problem("", "json", f"request body is not valid JSON: {reason}")]) from None
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")
        raise BodyError([Problem("", "object", f"request body must be a JSON object, got {kind}", value)])
    if _SURROGATE_ESCAPE.search(text):
        problems = _bad_strings(value)
        if problems:
            raise BodyError(problems)
    return value
