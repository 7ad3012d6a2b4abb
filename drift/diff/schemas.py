"""Compare two schemas for what a change does to clients.

The same change means different things by direction. In a **request** the
client writes and the server reads, so anything that accepts less (a type
changed, an enum value removed, a lower maximum, a newly required property)
breaks clients. In a **response** the server writes and the client reads, so
anything that *produces more* (a new enum value, a wider range, a new ``oneOf``
branch) may break a client's parser, and removing a required property does.

Findings point into NEW, except removals, which point at the removed thing in
OLD (their message says so).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from t2i_contract.spec import Document, SchemaView

from ..findings import Finding, show_json
from .rules import finding

__all__ = ["IN_OLD", "Direction", "SchemaDiff"]

Direction = Literal["request", "response"]
_UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_NOTES = ("description", "title", "summary", "format", "deprecated", "example", "examples")
_MISSING = object()
IN_OLD = " (path is in OLD)"


def _shown(value: Any) -> str:
    """A keyword's value as JSON, or ``absent``."""
    return "absent" if value is _MISSING else show_json(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _allowed(types: set[str]) -> set[str]:
    """Types with ``number`` implying ``integer``."""
    return types | ({"integer"} if "number" in types else set())


def _values(view: SchemaView) -> list[Any] | None:
    if "const" in view.keywords:
        return [view.get("const")]
    enum = view.get("enum")
    return list(enum) if isinstance(enum, list) else None


def _show(values: list[Any]) -> str:
    return ", ".join(show_json(v) for v in values)


def _types(document: Document, view: SchemaView) -> set[str]:
    """Allowed types; without a ``type`` keyword, the union of the ``oneOf``/``anyOf`` branches' types."""
    types = view.types()
    for keyword in ("oneOf", "anyOf"):
        if types or keyword not in view.keywords:
            continue
        branches = [_types(document, document.view(f"{view.origin[keyword]}/{keyword}/{i}"))
                    for i, _ in enumerate(view.get(keyword) or [])]
        if branches and all(branches):
            types = set().union(*branches)
    return types


def _signature(document: Document, pointer: str) -> str:
    """What tells a branch apart: its const-valued properties (``status=success``), else its $ref name."""
    view = document.view(pointer)
    consts = []
    for name, prop in sorted(view.properties.items()):
        values = _values(document.view(prop))
        if values is not None and len(values) == 1:
            consts.append(f"{name}={values[0] if isinstance(values[0], str) else show_json(values[0])}")
    if consts:
        return ",".join(consts)
    node = document.get(pointer)
    ref = node.get("$ref") if isinstance(node, dict) else None
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else ""


def _branch_keys(document: Document, view: SchemaView, keyword: str) -> dict[str, str]:
    """Branch key -> pointer; keys are signatures when they are unique, else positions."""
    pointers = [f"{view.origin[keyword]}/{keyword}/{i}" for i, _ in enumerate(view.get(keyword) or [])]
    keys = [_signature(document, p) for p in pointers]
    if all(keys) and len(set(keys)) == len(keys):
        return dict(zip(keys, pointers))
    return {f"#{i}": p for i, p in enumerate(pointers)}


@dataclass
class SchemaDiff:
    """Collects findings while comparing schema pairs; each pair is visited once per direction."""

    old: Document
    new: Document
    findings: list[Finding] = field(default_factory=list)
    _seen: set[tuple[str, str, str]] = field(default_factory=set)

    def add(self, rule: str, path: str, message: str) -> None:
        """Record one finding of ``rule`` (its level is the registry's), once."""
        item = finding(rule, path, message)
        if item not in self.findings:
            self.findings.append(item)

    def compare(self, old_pointer: str, new_pointer: str, direction: Direction, label: str) -> None:
        old, new = self.old.view(old_pointer), self.new.view(new_pointer)
        key = (old.pointer, new.pointer, direction)
        if key in self._seen:
            return
        self._seen.add(key)
        self._types(old, new, direction, label)
        self._enum(old, new, direction, label)
        self._ranges(old, new, direction, label)
        self._pattern_default_notes(old, new, direction, label)
        self._properties(old, new, direction, label)
        if isinstance(old.get("items"), dict) and isinstance(new.get("items"), dict):
            self.compare(f"{old.origin['items']}/items", f"{new.origin['items']}/items", direction, f"{label}[]")
        for keyword in ("oneOf", "anyOf"):
            self._branches(old, new, keyword, direction, label)

    # -- keywords ----------------------------------------------------------
    def _types(self, old: SchemaView, new: SchemaView, direction: Direction, label: str) -> None:
        before, after = _types(self.old, old), _types(self.new, new)
        if before == after:
            return
        # Which side must accept everything the other side may hold.
        reader, writer = (after, before) if direction == "request" else (before, after)
        breaking = bool(reader) and (not writer or not writer <= _allowed(reader))
        path = new.at("type") if "type" in new.keywords else new.pointer
        change = f"{label}: type {show_json(sorted(before)) if before else 'any'} -> " \
                 f"{show_json(sorted(after)) if after else 'any'}"
        if breaking:
            self.add(f"{direction}-type-changed", path, change)
        else:
            self.add("type-relaxed" if direction == "request" else "type-narrowed", path, change)

    def _enum(self, old: SchemaView, new: SchemaView, direction: Direction, label: str) -> None:
        before, after = _values(old), _values(new)
        if before == after:
            return
        path = new.at("enum") if "enum" in new.keywords else new.at("const") if "const" in new.keywords else new.pointer
        removed = [v for v in before if after is None or v not in after] if before is not None else []
        added = [v for v in after if before is None or v not in before] if after is not None else []
        if before is not None and after is None:
            self.add(f"{direction}-enum-value-added", path,
                     f"{label}: the enum [{_show(before)}] was dropped; any value of the type may appear")
        if before is None and after is not None:
            self.add(f"{direction}-enum-value-removed", path,
                     f"{label}: now limited to the enum [{_show(after)}]")
        if before is not None and after is not None:
            if removed:
                self.add(f"{direction}-enum-value-removed", path,
                         f"{label}: enum value(s) removed: {_show(removed)}")
            if added:
                self.add(f"{direction}-enum-value-added", path,
                         f"{label}: enum value(s) added: {_show(added)}")

    def _ranges(self, old: SchemaView, new: SchemaView, direction: Direction, label: str) -> None:
        for keyword in _UPPER + _LOWER + ("multipleOf",):
            before, after = old.get(keyword, _MISSING), new.get(keyword, _MISSING)
            if before == after or not all(v is _MISSING or _is_number(v) for v in (before, after)):
                continue  # unchanged, or not a number (schema-malformed in lint says so)
            if keyword == "multipleOf":
                narrowed = after is not _MISSING and (before is _MISSING or not after or before % after != 0)
            elif after is _MISSING or before is _MISSING:
                narrowed = before is _MISSING
            else:
                narrowed = after < before if keyword in _UPPER else after > before
            message = f"{label}: {keyword} {_shown(before)} -> {_shown(after)}"
            path = new.at(keyword) if after is not _MISSING else new.pointer
            self.add(f"{direction}-range-{'narrowed' if narrowed else 'widened'}", path, message)

    def _pattern_default_notes(self, old: SchemaView, new: SchemaView, direction: Direction, label: str) -> None:
        before, after = old.get("pattern", _MISSING), new.get("pattern", _MISSING)
        if before != after:
            path = new.at("pattern") if after is not _MISSING else new.pointer
            self.add(f"{direction}-pattern-changed", path, f"{label}: pattern {_shown(before)} -> {_shown(after)}")
        before, after = old.get("default", _MISSING), new.get("default", _MISSING)
        if before != after or type(before) is not type(after):
            path = new.at("default") if after is not _MISSING else new.pointer
            self.add("default-changed", path,
                     f"{label}: default {_shown(before)} -> {_shown(after)}; clients that omit it get other behaviour")
        for keyword in _NOTES:
            if old.get(keyword, _MISSING) != new.get(keyword, _MISSING):
                path = new.at(keyword) if keyword in new.keywords else new.pointer
                self.add("annotation-changed", path, f"{label or 'body'}: {keyword} changed")

    def _properties(self, old: SchemaView, new: SchemaView, direction: Direction, label: str) -> None:
        prefix = f"{label}." if label else ""
        for name in old.properties:
            if name not in new.properties:
                was_required = name in old.required
                if direction == "response" and was_required:
                    continue  # reported below as response-required-removed
                self.add(f"{direction}-property-removed", old.properties[name],
                         f"{prefix}{name} was removed" + (" (it was required)" if was_required else "") + IN_OLD)
        for name in new.properties:
            if name not in old.properties:
                self.add(f"{direction}-property-added", new.properties[name], f"{prefix}{name} was added")
        base = new.at("required") if "required" in new.keywords else new.pointer
        for name in new.required:
            if name not in old.required:
                if direction == "request":
                    self.add("request-required-added", base, f"{prefix}{name} is now required")
                else:
                    self.add("response-required-added", base, f"{prefix}{name} is now always present")
        for name in old.required:
            if name not in new.required:
                if direction == "response":
                    self.add("response-required-removed", base,
                             f"{prefix}{name} is no longer guaranteed in the response"
                             + ("" if name in new.properties else " (the property was removed)"))
                else:
                    self.add("request-required-removed", base, f"{prefix}{name} is now optional")
        closed_before = old.get("additionalProperties") is False
        closed_after = new.get("additionalProperties") is False
        if direction == "request" and closed_after and not closed_before:
            self.add("request-additional-properties-closed", new.at("additionalProperties"),
                     f"{label or 'body'}: fields the schema does not list are now rejected")
        for name in [n for n in old.properties if n in new.properties]:
            self.compare(old.properties[name], new.properties[name], direction, f"{prefix}{name}")

    def _branches(self, old: SchemaView, new: SchemaView, keyword: str, direction: Direction, label: str) -> None:
        # When only one side has the keyword, the type comparison has already judged the change.
        if keyword not in old.keywords or keyword not in new.keywords:
            return
        before = _branch_keys(self.old, old, keyword)
        after = _branch_keys(self.new, new, keyword)
        where = label or "body"
        for name in [n for n in after if n not in before]:
            self.add(f"{direction}-{keyword.lower()}-branch-added", after[name], f"{where}: new {keyword} branch {name}")
        for name in [n for n in before if n not in after]:
            self.add(f"{direction}-{keyword.lower()}-branch-removed", before[name],
                     f"{where}: {keyword} branch {name} was removed{IN_OLD}")
        for name in [n for n in before if n in after]:
            self.compare(before[name], after[name], direction, f"{label}<{name}>" if label else f"<{name}>")
