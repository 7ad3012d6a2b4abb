"""Turn raw HTTP body bytes into a JSON object, or a :class:`~spec.errors.BodyError`.

Servers call this before validation so that malformed input (not UTF-8, not JSON,
NaN/Infinity, not an object) gets the same error shape as a bad field.
"""
from __future__ import annotations

import json
from typing import Any

from .errors import BodyError, Problem

__all__ = ["parse_json_body"]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text} is too large")
    return value


def parse_json_body(raw: bytes | str) -> dict[str, Any]:
    """Parse a request body that must be a JSON object."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except UnicodeDecodeError:
        raise BodyError([Problem("", "json", "request body must be UTF-8 encoded JSON")]) from None
    except (ValueError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc) or "too deeply nested"
        raise BodyError([Problem("", "json", f"request body is not valid JSON: {reason}")]) from None
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")
        raise BodyError([Problem("", "object", f"request body must be a JSON object, got {kind}", value)])
    return value
