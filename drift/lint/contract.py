"""Lint rules for contract documents: what each operation's ``x-t2i-operation`` hint maps.

A contract (an OpenAPI 3.1 document with the ``x-t2i-wire`` hint, see
``spec/EXTENSIONS.md``) maps each operation onto the toolkit's generic image
semantics. ``operation-hint-invalid`` reports a hint that names what the
document or the vocabulary lacks (the contract would not load);
``semantics-unmapped`` lists, per operation, the meanings it leaves
unmapped, whose checks the contract suite skips. A document without
``x-t2i-*`` hints (any vendor's OpenAPI file) is none of their business.
"""
from __future__ import annotations

from typing import Iterator

from t2i_contract.spec import Document, Spec, SpecLoadError, escape_pointer
from t2i_contract.spec.semantics import OPERATION_EXTENSION, SEMANTICS, read_operation_map

from .registry import rule

__all__: list[str] = []

_WIRE = "x-t2i-wire"


def _hinted(document: Document) -> Iterator[tuple[Spec, str, str, bool]]:
    """(contract, operationId, pointer, has the hint) for each operation of a 3.1 document with hints."""
    data = document.data
    operations = [(r, m, p) for r, m, p in document.operation_pointers() if p.startswith("/paths/")]
    hinted = any(OPERATION_EXTENSION in document.get(p) for _, _, p in operations)
    if not document.is_31 or not (hinted or _WIRE in data):
        return
    try:
        spec = Spec.from_dict(data)
    except (SpecLoadError, TypeError, AttributeError, ValueError):
        return  # not readable as a contract at all: the structure rules say why
    for _, _, pointer in operations:
        operation = document.get(pointer)
        if isinstance(operation.get("operationId"), str):
            yield spec, operation["operationId"], pointer, OPERATION_EXTENSION in operation


@rule("operation-hint-invalid", "error")
def operation_hint_invalid(document: Document) -> Iterator[tuple[str, str]]:
    """An ``x-t2i-operation`` hint naming a role, kind, meaning or field the document or the vocabulary lacks."""
    for spec, operation_id, pointer, has_hint in _hinted(document):
        if not has_hint:
            continue
        try:
            read_operation_map(spec, operation_id)
        except SpecLoadError as exc:
            yield f"{pointer}/{escape_pointer(OPERATION_EXTENSION)}", str(exc)


@rule("semantics-unmapped", "info")
def semantics_unmapped(document: Document) -> Iterator[tuple[str, str]]:
    """The generic image semantics an operation of a contract leaves unmapped (the contract suite skips their checks)."""
    for spec, operation_id, pointer, has_hint in _hinted(document):
        if not has_hint:
            yield pointer, (f"{operation_id} has no {OPERATION_EXTENSION} hint, so it maps none of the generic "
                            f"semantics ({', '.join(SEMANTICS)})")
            continue
        try:
            mapped = read_operation_map(spec, operation_id)
        except SpecLoadError:
            continue  # operation-hint-invalid reports it
        if mapped.unmapped:
            what = " ".join(p for p in (mapped.role, mapped.kind) if p)
            yield f"{pointer}/{escape_pointer(OPERATION_EXTENSION)}", (
                f"{operation_id} ({what}) leaves unmapped: {', '.join(mapped.unmapped)}")
