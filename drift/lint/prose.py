"""Heuristic lint rules (level ``info``): descriptions that contradict their schema.

Descriptions are prose, so these rules read a few common phrasings ("Default
is (true)", "between 0.1 and 1", "comma-separated values") and compare them with
the schema's keywords. They can miss, and they can be wrong, which is why they
only inform.
"""
from __future__ import annotations

import re
from typing import Any, Iterator

import yaml

from t2i_contract.spec import Document

from .registry import rule

__all__: list[str] = []

_NUMBER = r"(-?\d+(?:\.\d+)?)"
_DEFAULT = re.compile(r"\bdefault(?: value)? is:?\s*\(?[`'\"]?([\w.+-]+)", re.I)
_RANGES = (
    (re.compile(rf"\bbetween {_NUMBER} and {_NUMBER}", re.I), ("minimum", "maximum")),
    (re.compile(rf"\b(?:range|ranging)s? from {_NUMBER} to {_NUMBER}", re.I), ("minimum", "maximum")),
    (re.compile(rf"\(\s*{_NUMBER} to {_NUMBER}\s*\)", re.I), ("minimum", "maximum")),
    (re.compile(rf"\bmaximum is {_NUMBER}", re.I), ("maximum",)),
    (re.compile(rf"\bminimum is {_NUMBER}", re.I), ("minimum",)),
)
_LIST_WORDS = re.compile(r"comma[- ]separated", re.I)
_DECIMAL = re.compile(r"(?<![\w.])\d*\.\d+(?![\w.])")


def _described(document: Document) -> Iterator[tuple[str, dict[str, Any], str]]:
    for pointer in document.schema_pointers():
        node = document.get(pointer)
        if isinstance(node.get("description"), str):
            yield pointer, node, node["description"]


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("type")
    return {kind} if isinstance(kind, str) else {k for k in kind if isinstance(k, str)} if isinstance(kind, list) else set()


@rule("type-contradicts-description", "info")
def type_contradicts_description(document: Document) -> Iterator[tuple[str, str]]:
    """A numeric type whose description asks for comma-separated values, or an integer described with decimals."""
    for pointer, node, text in _described(document):
        types = _types(node)
        if not types or "string" in types:
            continue
        if types & {"integer", "number"} and _LIST_WORDS.search(text):
            yield f"{pointer}/type", (
                f"type {node['type']!r} cannot hold the comma-separated values the description asks for"
            )
        elif types <= {"integer", "null"} and _DECIMAL.search(text):
            yield f"{pointer}/type", (
                f"type {node['type']!r} cannot hold the decimal {_DECIMAL.search(text).group(0)} the "  # type: ignore[union-attr]
                f"description mentions"
            )


@rule("description-contradicts-default", "info")
def description_contradicts_default(document: Document) -> Iterator[tuple[str, str]]:
    """A description that states a default ("Default is null") the ``default`` keyword does not give."""
    for pointer, node, text in _described(document):
        match = _DEFAULT.search(text)
        if not match:
            continue
        try:
            stated = yaml.safe_load(match.group(1).rstrip("."))
        except yaml.YAMLError:
            continue
        if isinstance(stated, (dict, list)):
            continue
        if "default" not in node:
            yield pointer, f"the description says the default is {match.group(1).rstrip('.')!r}, but the schema has no default"
        elif node["default"] != stated or type(node["default"]) is not type(stated):
            yield f"{pointer}/default", (
                f"the description says the default is {match.group(1).rstrip('.')!r}, but default is {node['default']!r}"
            )


@rule("description-contradicts-range", "info")
def description_contradicts_range(document: Document) -> Iterator[tuple[str, str]]:
    """A description that states a range ("between 1 and 4", "(0 to 1)") the schema's bounds differ from."""
    for pointer, node, text in _described(document):
        if not _types(node) & {"integer", "number"}:
            continue
        for pattern, keywords in _RANGES:
            match = pattern.search(text)
            if not match:
                continue
            wrong = [
                f"{keyword} is {'absent' if node.get(keyword) is None else node[keyword]}"
                for keyword, raw in zip(keywords, match.groups())
                if node.get(keyword) is None or float(node[keyword]) != float(raw)
            ]
            if wrong:
                yield pointer, f"the description says {match.group(0)!r}, but {' and '.join(wrong)}"
            break
