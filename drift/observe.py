"""Tally what a server actually sends against what the spec documents.

:class:`Observer` is fed every response of a drift run (``record``) and turns
the tallies into findings (``findings``) of the rules in :data:`DRIFT_RULES`
(``t2i drift``'s own verdicts use the same table): undocumented fields and how often,
documented fields never seen, enum values never seen and unknown ones seen, type
mismatches, missing required fields, undocumented statuses. Response bodies are
matched to a ``oneOf`` branch by the discriminator (``status``), then checked
against that branch with the spec's response validator (:mod:`spec.responses`,
the one ``t2i test`` and ``t2i proxy`` judge with), and walked field by field.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from t2i_contract.spec import Document, ResponseChecker, SchemaView, Spec

from .findings import Finding, show_json
from .rules import RuleTable

__all__ = ["DRIFT_RULES", "Observer"]

DRIFT_RULES = RuleTable("drift", (
    ("undocumented-status", "error", "an answer's HTTP status is not one the operation documents"),
    ("unknown-enum-value", "error", "a value outside its enum, or a discriminator value that names no branch"),
    ("type-mismatch", "error", "a value of another type than its schema's"),
    ("missing-required", "error", "a required field is absent"),
    ("schema-violation", "error", "any other way an answer breaks its schema"),
    ("undocumented-field", "warn", "a field the spec does not list was sent"),
    ("field-never-seen", "info", "a documented field was absent from every answer"),
    ("enum-value-never-seen", "info", "a documented enum value never appeared"),
    ("request-failed", "error", "no answer, a 5xx, a body that is not JSON, a polling or image problem"),
    ("valid-request-rejected", "error", "a body the spec accepts was refused"),
    ("invalid-request-accepted", "error", "a body the spec rejects was accepted"),
    ("generation-never-finished", "error", "a generation was still processing when polling gave up"),
    ("default-not-applied", "error", "an omitted field's default does not show in meta or in the images"),
))
# The JSON Schema keyword an error comes from -> the drift rule that reports it.
_CATEGORY: dict[str, str] = {"type": "type-mismatch", "required": "missing-required", "enum": "unknown-enum-value",
                             "const": "unknown-enum-value"}


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class _Problem:
    rule: str
    path: str
    message: str
    count: int = 0


@dataclass
class Observer:
    """Accumulates observations over many responses of one spec."""

    document: Document
    checker: ResponseChecker = field(init=False, repr=False)
    bodies: Counter[str] = field(default_factory=Counter)          # schema pointer -> bodies seen
    seen: Counter[str] = field(default_factory=Counter)            # property pointer -> times present
    undocumented: Counter[tuple[str, str]] = field(default_factory=Counter)  # (object pointer, name)
    values: dict[str, Counter[str]] = field(default_factory=dict)  # enum/discriminator pointer -> values
    problems: dict[tuple[str, str, str], _Problem] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The spec's one response validator; a Spec keeps one already built.
        self.checker = self.document.responses if isinstance(self.document, Spec) else ResponseChecker(self.document)

    def problem(self, rule: str, path: str, message: str, group: str | None = None) -> None:
        """Count one problem; those with the same ``group`` (default: the message) are reported once,
        with the first message as the example."""
        key = (rule, path, group if group is not None else message)
        if rule not in DRIFT_RULES:
            raise LookupError(f"drift rule {rule!r} is not registered")
        item = self.problems.setdefault(key, _Problem(rule, path, message))
        item.count += 1

    # -- recording -------------------------------------------------------
    def record(self, operation_pointer: str, status_code: int, body: Any, label: str, *,
               validate: bool = True) -> None:
        """One response of the operation at ``operation_pointer`` (e.g. ``/paths/~1x/post``).

        ``validate=False`` only tallies fields and values (the proxy has its verdict already)."""
        response = self.checker.response_at(operation_pointer, status_code)
        if response is None:
            self.problem("undocumented-status", f"{operation_pointer}/responses",
                         f"{label} answered HTTP {status_code}, which the spec does not document")
            return
        media = self.checker.json_schema(response)
        if media is not None:
            self._body(media, body, label, validate)

    def _branch(self, view: SchemaView, body: Any, label: str) -> SchemaView | None:
        """The oneOf branch a body belongs to, or None when the discriminator names none."""
        found = self.checker.discriminator(view.pointer) if isinstance(body, dict) else None
        if found is not None:
            counter = self.values.setdefault(found.mapping_pointer, Counter())
            value = body.get(found.property_name)
            if not isinstance(value, str) or value not in found.branches:
                self.problem("unknown-enum-value", found.mapping_pointer,
                             f"{label}: {found.property_name} {_short(value)} is none of "
                             f"{show_json(sorted(found.branches))}", group=_short(value))
                return None
            counter[value] += 1
            return self.document.view(found.branches[value])
        branches = [self.document.view(f"{view.origin['oneOf']}/oneOf/{i}") for i, _ in enumerate(view.get("oneOf"))]
        matching = [b for b in branches if not self.checker.schema_errors(b.pointer, body)]
        return matching[0] if len(matching) == 1 else branches[0]

    def _body(self, pointer: str, body: Any, label: str, validate: bool) -> None:
        view = self.document.view(pointer)
        if "oneOf" in view.keywords:
            branch = self._branch(view, body, label)
            if branch is None:
                return
            view = branch
        self.bodies[view.pointer] += 1
        for error in self.checker.schema_errors(view.pointer, body) if validate else []:
            rule = _CATEGORY.get(str(error.validator), "schema-violation")
            where = "/".join(str(p) for p in error.absolute_path)
            target = self._pointer_for(view, list(error.absolute_path))
            if error.validator == "required":
                missing = error.message.split("'")[1] if "'" in error.message else error.message
                target = f"{view.at('required')}"
                message = f"{label}: required field {show_json(missing)} is missing"
            else:
                message = f"{label}: {self.checker.describe(error)}"
            self.problem(rule, target, message, group=f"{where}|{error.validator}|{error.validator_value!r}")
        self._walk(view, body)

    def _pointer_for(self, view: SchemaView, path: list[Any]) -> str:
        pointer = view.pointer
        for part in path:
            if isinstance(part, str) and part in view.properties:
                pointer = view.properties[part]
            elif isinstance(part, int) and isinstance(view.get("items"), dict):
                pointer = f"{view.origin['items']}/items"
            else:
                break
            view = self.document.view(pointer)
        return pointer

    def _walk(self, view: SchemaView, value: Any) -> None:
        if isinstance(value, dict) and view.properties:
            for name, item in value.items():
                prop = view.properties.get(name)
                if prop is None:
                    self.undocumented[(view.pointer, name)] += 1
                    continue
                self.seen[prop] += 1
                prop_view = self.document.view(prop)
                enum = prop_view.get("enum")
                if isinstance(enum, list):
                    self.values.setdefault(prop_view.at("enum"), Counter())[_short(item)] += 1
                self._walk(prop_view, item)
        elif isinstance(value, list) and isinstance(view.get("items"), dict):
            items = self.document.view(f"{view.origin['items']}/items")
            for item in value:
                self._walk(items, item)

    # -- reporting -------------------------------------------------------
    def findings(self) -> list[Finding]:
        found = [DRIFT_RULES.finding(p.rule, p.path, p.message + (f" (and {p.count - 1} more like it)"
                                                                   if p.count > 1 else ""))
                 for p in self.problems.values()]
        for (pointer, name), count in sorted(self.undocumented.items()):
            total = self.bodies.get(pointer) or count
            found.append(DRIFT_RULES.finding("undocumented-field", f"{pointer}/properties",
                                 f"{show_json(name)} is not in the spec but was sent in {count} of {total} answers"))
        for pointer, total in sorted(self.bodies.items()):
            view = self.document.view(pointer)
            for name, prop in view.properties.items():
                if self.seen.get(prop, 0) == 0:
                    found.append(DRIFT_RULES.finding("field-never-seen", prop,
                                         f"{show_json(name)} is documented but absent from all {total} answers"))
        for pointer, counter in sorted(self.values.items()):
            allowed = self._allowed_values(pointer)
            for value in allowed:
                if counter.get(value if pointer.endswith("/mapping") else _short(value), 0) == 0:
                    found.append(DRIFT_RULES.finding("enum-value-never-seen", pointer,
                                         f"{show_json(value)} is documented but never seen in {sum(counter.values())} answers"))
        return found

    def _allowed_values(self, pointer: str) -> list[Any]:
        node = self.document.get(pointer)
        return list(node) if isinstance(node, (dict, list)) else []
