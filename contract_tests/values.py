"""Values for one request property, derived from its schema keywords.

``value_strategy(schema, spec.wire_booleans)`` draws values the property
accepts, in canonical JSON types and in the wire forms of ``x-t2i-coercions``
(``"512"``, ``"yes"``).
``violation_strategy(schema)`` draws values that break one of its rules, and
``rule_breakers(schema)`` lists one such value per rule. Nothing here knows
field names: a new property or rule in the spec is covered without code
changes. Whether a value really is valid is still the spec's call (see
:func:`contract_tests.generation.is_valid`).
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable, Mapping

import hypothesis.strategies as st

__all__ = ["rule_breakers", "value_strategy", "violation_strategy", "with_wire_form"]

def with_wire_form(strategy: st.SearchStrategy[Any], wire: Callable[[Any], Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, strategy.map(wire))


def _integer_values(schema: Mapping[str, Any]) -> st.SearchStrategy[int]:
    lo = schema.get("minimum", 0)
    clamp = schema.get("x-t2i-clamp-maximum")
    hi = schema.get("maximum", clamp * 2 if clamp is not None else lo + 1000)
    step = schema.get("multipleOf", 1)
    return st.integers(math.ceil(lo / step), math.floor(hi / step)).map(lambda n: n * step)


def _number_values(schema: Mapping[str, Any]) -> st.SearchStrategy[float]:
    return st.floats(schema.get("minimum", -1e6), schema.get("maximum", 1e6), allow_nan=False,
                     allow_infinity=False).map(lambda v: round(v, 4)).filter(
        lambda v: schema.get("minimum", -math.inf) <= v <= schema.get("maximum", math.inf))


def _wire_words(wire_booleans: Mapping[str, bool]) -> list[str]:
    """The spec's boolean words as sent: lower case, capitalised and upper case (the spec folds case)."""
    return sorted({form for word in wire_booleans for form in (word, word.capitalize(), word.upper())})


def value_strategy(schema: Mapping[str, Any], wire_booleans: Mapping[str, bool] | None = None) -> \
        st.SearchStrategy[Any]:
    """Valid values for one property, in canonical and wire forms (``wire_booleans``: the spec's words)."""
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    options: list[st.SearchStrategy[Any]] = []
    if "enum" in schema:
        options.append(st.sampled_from(list(schema["enum"])))
    elif "integer" in types:
        options.append(with_wire_form(_integer_values(schema), str))
    elif "number" in types:
        options.append(with_wire_form(_number_values(schema), repr))
    elif "boolean" in types:
        words = _wire_words(wire_booleans or {})
        options.append(st.one_of(st.booleans(), st.sampled_from(words)) if words else st.booleans())
    elif "string" in types:
        if "pattern" in schema:
            options.append(st.from_regex(schema["pattern"], fullmatch=True))
        else:
            options.append(st.text(st.characters(exclude_categories=("Cs", "Cc")),
                                   min_size=schema.get("minLength", 0),
                                   max_size=min(schema.get("maxLength", 40), 40)))
    if "null" in types:
        options.append(st.none())
    return st.one_of(options)


def violation_strategy(schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Values that break one of the property's rules (some may still be valid after coercion)."""
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    options: list[st.SearchStrategy[Any]] = [st.sampled_from([[1], {"a": 1}])]
    if "string" not in types:
        options.append(st.sampled_from(["abc", "", "12px", " "]))
    if "boolean" not in types:
        options.append(st.just(True))
    if types == ["boolean"]:
        options.append(st.sampled_from([1, 0, 2.5, "maybe", "y"]))
    if "integer" in types and "number" not in types:
        options.append(st.sampled_from([1.5, "1.5", "1e3"]))
    if "minimum" in schema:
        lo = schema["minimum"]
        options.append(st.floats(lo - abs(lo) * 4 - 1000, lo, exclude_max=True, allow_nan=False).map(
            lambda v: math.floor(v) if "integer" in types else v))
    if "maximum" in schema:
        hi = schema["maximum"]
        options.append(st.floats(hi, hi + abs(hi) * 4 + 1000, exclude_min=True, allow_nan=False).map(
            lambda v: math.ceil(v) if "integer" in types else v))
    if "multipleOf" in schema:
        step = schema["multipleOf"]
        options.append(st.integers(schema.get("minimum", 0), schema.get("maximum", 10_000))
                       .filter(lambda n: n % step != 0))
    if "enum" in schema:
        options.append(st.sampled_from(["not-a-" + str(schema["enum"][0]), str(schema["enum"][0]).upper() + "x"]))
    if "pattern" in schema:
        regex = re.compile(schema["pattern"])
        options.append(st.sampled_from(["-leading-dash", "has space", "slash/inside", "ftp://x", "x y"])
                       .filter(lambda s: not regex.search(s)))
    if schema.get("minLength"):
        options.append(st.just(""))
    if "maxLength" in schema:
        options.append(st.just("x" * (schema["maxLength"] + 1)))
    return st.one_of(options)


def rule_breakers(schema: Mapping[str, Any]) -> list[Any]:
    """One value per rule of ``schema`` that breaks that rule (the oracle filters survivors)."""
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    values: list[Any] = [["a list"]]
    if "integer" in types or "number" in types:
        values.append("not a number")
    if "boolean" in types:
        values.append("maybe")
    if "minimum" in schema:
        values.append(schema["minimum"] - 1)
    if "maximum" in schema:
        values.append(schema["maximum"] + 1)
    if "multipleOf" in schema:
        values.append(schema.get("minimum", 0) + 1)
    if "enum" in schema:
        values.append("not-a-" + str(schema["enum"][0]))
    if "pattern" in schema:
        values.append("has space, and/slash")
    if schema.get("minLength"):
        values.append("")
    if "maxLength" in schema:
        values.append("x" * (schema["maxLength"] + 1))
    return values
