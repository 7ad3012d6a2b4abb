"""Wire leniency: turn the string forms real clients send into the schema's types.

The rules come from the document's ``x-t2i-coercions`` block and are keyed by
JSON type, never by field name: every ``integer`` field accepts a digit string,
every ``boolean`` field accepts ``"yes"``/``"no"``, and so on. A coercer
returns :data:`~spec.errors.MISSING` when it does not apply, so the value is
then validated exactly as sent.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .errors import MISSING, SpecLoadError

__all__ = ["MAX_INTEGER_DIGITS", "Coercer", "Coercions", "TooManyDigits"]

Coercer = Callable[[str], Any]

#: Longest digit string an integer field converts. Every integer in the contract is
#: bounded far below this, and Python refuses to convert strings past 4,300 digits.
MAX_INTEGER_DIGITS = 64


class TooManyDigits(ValueError):
    """A digit string too long to be any integer the contract allows; the validator names the field."""

    def __init__(self, digits: int) -> None:
        super().__init__(f"a string of {digits} digits (at most {MAX_INTEGER_DIGITS} are read)")
        self.digits = digits


def _integer(pattern: re.Pattern[str]) -> Coercer:
    def coerce(text: str) -> Any:
        if not pattern.fullmatch(text):
            return MISSING
        if len(text) > MAX_INTEGER_DIGITS:
            raise TooManyDigits(len(text.lstrip("-")))
        return int(text)

    return coerce


def _number(pattern: re.Pattern[str]) -> Coercer:
    def coerce(text: str) -> Any:
        if not pattern.fullmatch(text):
            return MISSING
        value = float(text)
        return value if math.isfinite(value) else MISSING

    return coerce


def _boolean(truthy: frozenset[str], falsy: frozenset[str], fold: bool) -> Coercer:
    table = {word: True for word in truthy} | {word: False for word in falsy}

    def coerce(text: str) -> Any:
        return table.get(text.lower() if fold else text, MISSING)

    return coerce


@dataclass(frozen=True)
class Coercions:
    """The coercers of one document, by target JSON type."""

    by_type: Mapping[str, Coercer]

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Coercions:
        rules = document.get("x-t2i-coercions") or {}
        by_type: dict[str, Coercer] = {}
        for json_type, rule in rules.items():
            if rule.get("from") != "string":
                raise SpecLoadError(f"x-t2i-coercions.{json_type}: only coercion from strings is supported")
            if json_type == "integer":
                by_type[json_type] = _integer(re.compile(rule["pattern"]))
            elif json_type == "number":
                by_type[json_type] = _number(re.compile(rule["pattern"]))
            elif json_type == "boolean":
                fold = bool(rule.get("case_insensitive"))
                norm = (lambda w: w.lower()) if fold else (lambda w: w)
                by_type[json_type] = _boolean(
                    frozenset(norm(w) for w in rule["truthy"]),
                    frozenset(norm(w) for w in rule["falsy"]),
                    fold,
                )
            else:
                raise SpecLoadError(f"x-t2i-coercions: no coercion to {json_type!r} is defined")
        return cls(by_type)

    def for_types(self, json_types: tuple[str, ...]) -> Coercer | None:
        """One coercer trying each of a field's types in order, or None if none applies.

        A field that already accepts strings is never coerced: the string is valid as sent.
        """
        if "string" in json_types:
            return None
        chain = [self.by_type[t] for t in json_types if t in self.by_type]
        if not chain:
            return None
        if len(chain) == 1:
            return chain[0]

        def coerce(text: str) -> Any:
            for step in chain:
                value = step(text)
                if value is not MISSING:
                    return value
            return MISSING

        return coerce

    def apply(self, value: Any, json_types: tuple[str, ...]) -> Any:
        """Coerce one value the way a server would (MISSING-free: returns the value unchanged
        when no rule applies). Used by tests and tools to build the oracle's input."""
        if isinstance(value, str):
            coercer = self.for_types(json_types)
            if coercer is not None:
                coerced = coercer(value)
                if coerced is not MISSING:
                    return coerced
        return value
