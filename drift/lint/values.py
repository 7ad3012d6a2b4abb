"""Lint rules about values a schema carries: defaults, examples, enums and ranges.

A ``default`` or example is a promise about the schema it sits in; when the
schema itself rejects it, one of the two is wrong. Defaults are split by the
keyword they break, so a CI job can tell a wrong type from a wrong bound.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

from jsonschema.exceptions import ValidationError as SchemaError

from t2i_contract.spec import Document, DocumentError

from ..findings import escape_pointer
from .registry import rule

__all__ = ["type_allows"]

_RANGE = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
          "minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"}
_ENUM = {"enum", "const"}
_TYPE = {"type", "nullable"}
_PATTERN = {"pattern"}
_PROBES: tuple[Any, ...] = (None, True, 0, 0.5, "x", [0], {"x": 0})
_BOUNDS = (("minimum", "maximum"), ("minLength", "maxLength"), ("minItems", "maxItems"),
           ("minProperties", "maxProperties"))


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 60 else text[:59] + "…"


def _errors(document: Document, pointer: str, value: Any) -> list[SchemaError]:
    """Errors of ``value`` against the schema at ``pointer``; none when the schema itself is
    malformed, which ``schema-malformed`` reports instead."""
    try:
        return sorted(document.errors(pointer, value), key=lambda e: list(map(str, e.path)))
    except DocumentError:
        return []


def _leaf_errors(errors: list[SchemaError]) -> Iterator[SchemaError]:
    """The innermost errors: a failed ``oneOf``/``anyOf`` stands for its branches' errors."""
    for error in errors:
        if error.context:
            yield from _leaf_errors(list(error.context))
        else:
            yield error


def _defaults(document: Document) -> Iterator[tuple[str, Any]]:
    for pointer in document.schema_pointers():
        node = document.get(pointer)
        if "default" in node:
            yield pointer, node["default"]


def _default_findings(document: Document, accept: Callable[[str], bool], noun: str) -> Iterator[tuple[str, str]]:
    for pointer, default in _defaults(document):
        errors = [e for e in _leaf_errors(_errors(document, pointer, default)) if accept(str(e.validator))]
        if errors:
            reasons = "; ".join(dict.fromkeys(e.message for e in errors))
            yield f"{pointer}/default", f"default {_show(default)} breaks the schema's {noun}: {reasons}"


@rule("default-type-mismatch", "error")
def default_type_mismatch(document: Document) -> Iterator[tuple[str, str]]:
    """A default whose JSON type the schema does not allow."""
    yield from _default_findings(document, _TYPE.__contains__, "type")


@rule("default-not-in-enum", "error")
def default_not_in_enum(document: Document) -> Iterator[tuple[str, str]]:
    """A default that is not one of the schema's enum values (or not its const)."""
    yield from _default_findings(document, _ENUM.__contains__, "enum")


@rule("default-out-of-range", "error")
def default_out_of_range(document: Document) -> Iterator[tuple[str, str]]:
    """A default outside the schema's minimum/maximum, multipleOf or length bounds."""
    yield from _default_findings(document, _RANGE.__contains__, "range")


@rule("default-pattern-mismatch", "error")
def default_pattern_mismatch(document: Document) -> Iterator[tuple[str, str]]:
    """A string default that does not match the schema's pattern."""
    yield from _default_findings(document, _PATTERN.__contains__, "pattern")


@rule("default-invalid", "error")
def default_invalid(document: Document) -> Iterator[tuple[str, str]]:
    """A default the schema rejects for any other reason (required, additionalProperties, ...)."""
    known = _TYPE | _ENUM | _RANGE | _PATTERN
    yield from _default_findings(document, lambda keyword: keyword not in known, "constraints")


def _examples(document: Document) -> Iterator[tuple[str, str, Any]]:
    """(schema pointer, example pointer, value) for schema, media and parameter examples."""
    for pointer in document.schema_pointers():
        node = document.get(pointer)
        if "example" in node:
            yield pointer, f"{pointer}/example", node["example"]
        if isinstance(node.get("examples"), list):
            for index, value in enumerate(node["examples"]):
                yield pointer, f"{pointer}/examples/{index}", value
    holders = list(document.media_pointers()) + list(document.parameter_pointers())
    for holder in holders:
        node = document.get(holder)
        if not isinstance(node, dict) or "schema" not in node:
            continue
        schema = f"{holder}/schema"
        if "example" in node:
            yield schema, f"{holder}/example", node["example"]
        for name, example in (node.get("examples") or {}).items():
            example_pointer = document.follow(f"{holder}/examples/{escape_pointer(name)}")
            example = document.get(example_pointer)
            if isinstance(example, dict) and "value" in example:
                yield schema, f"{example_pointer}/value", example["value"]


@rule("example-invalid", "error")
def example_invalid(document: Document) -> Iterator[tuple[str, str]]:
    """A schema, media-type or parameter example that its own schema rejects."""
    for schema, pointer, value in _examples(document):
        errors = list(_leaf_errors(_errors(document, schema, value)))
        if errors:
            reasons = "; ".join(
                dict.fromkeys(f"{'/'.join(map(str, e.absolute_path)) or '(value)'}: {e.message}" for e in errors)
            )
            yield pointer, f"example does not validate against {schema}: {reasons}"


_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def type_allows(kind: Any, value: Any, nullable: bool = False) -> bool:
    """Whether a JSON ``type`` keyword (a name or a list) admits ``value``."""
    if value is None and nullable:
        return True
    kinds = [kind] if isinstance(kind, str) else list(kind or [])
    return not kinds or any(_TYPE_TESTS.get(k, lambda v: True)(value) for k in kinds)


@rule("enum-type-mismatch", "error")
def enum_type_mismatch(document: Document) -> Iterator[tuple[str, str]]:
    """An enum or const value whose JSON type the schema itself forbids."""
    for pointer in document.schema_pointers():
        node = document.get(pointer)
        if "type" not in node:
            continue
        nullable = node.get("nullable") is True and not document.is_31
        values = [("const", node["const"])] if "const" in node else []
        values += [(f"enum/{i}", v) for i, v in enumerate(node.get("enum") or [])]
        for where, value in values:
            if not type_allows(node["type"], value, nullable):
                yield f"{pointer}/{where}", f"{_show(value)} is not of the schema's type {node['type']!r}"


@rule("empty-range", "error")
def empty_range(document: Document) -> Iterator[tuple[str, str]]:
    """Bounds that no value can meet: a minimum above the maximum, or an empty enum."""
    for pointer in document.schema_pointers():
        view = document.view(pointer)
        if view.pointer != pointer and "$ref" in document.get(pointer) and len(document.get(pointer)) == 1:
            continue  # a bare $ref: the target is checked where it is defined
        for low, high in _BOUNDS:
            lo, hi = view.get(low), view.get(high)
            if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo > hi:
                yield view.at(low), f"{low} {lo} is above {high} {hi}: no value can satisfy both"
        if view.get("enum") == []:
            yield view.at("enum"), "enum is empty: no value can satisfy it"


@rule("schema-malformed", "error")
def schema_malformed(document: Document) -> Iterator[tuple[str, str]]:
    """A schema that breaks the JSON Schema metaschema, or that a validator cannot evaluate."""
    from jsonschema import Draft4Validator, Draft202012Validator

    meta = Draft202012Validator if document.is_31 else Draft4Validator
    checker = meta(meta.META_SCHEMA)
    for root in document.schema_roots():
        node = document.get(root)
        errors = list(checker.iter_errors(node))
        for error in errors:
            where = "".join(f"/{escape_pointer(p)}" for p in error.absolute_path)
            yield f"{root}{where}", f"not a valid schema: {error.message}"
        if not errors:
            try:
                for probe in _PROBES:  # one value of each JSON type, so every keyword gets evaluated
                    document.errors(root, probe)
            except DocumentError as exc:
                yield root, str(exc).split(": ", 1)[-1]
