"""Compare two documents operation by operation: endpoints, bodies, parameters, responses.

Operations are matched by method and path template (with parameter names
ignored, so ``/fetch/{id}`` and ``/fetch/{request_id}`` are the same endpoint);
their request and response schemas are then compared by
:class:`~drift.diff.schemas.SchemaDiff`.
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from t2i_contract.spec import Document

from ..findings import escape_pointer, show_json
from .schemas import IN_OLD, SchemaDiff

__all__ = ["compare_operations"]


def _base_path(document: Document) -> str:
    """The path part of the first server URL: ``/api/v6/images`` for ``https://host/api/v6/images``."""
    servers = document.data.get("servers") or []
    url = servers[0].get("url", "") if servers and isinstance(servers[0], dict) else ""
    return urlsplit(url).path.rstrip("/") if "://" in url else url.rstrip("/")


def _node(document: Document, pointer: str) -> dict[str, Any]:
    """The object at ``pointer``, or an empty one when the document holds something else there."""
    node = document.get(pointer) if document.has(pointer) else None
    return node if isinstance(node, dict) else {}


def _operations(document: Document) -> dict[tuple[str, str], tuple[str, str]]:
    """(method, route key) -> (pointer, label). Routes include the server's base path."""
    base = _base_path(document)
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for route, method, pointer in document.operation_pointers():
        full = f"webhook {route}" if pointer.startswith("/webhooks/") else base + route
        found[(method, re.sub(r"{[^{}]*}", "{}", full))] = (pointer, f"{method.upper()} {full}")
    return found


def _params(document: Document, op: str) -> dict[tuple[str, str], str]:
    """(in, name) -> parameter pointer; path parameters are keyed by their place in the route."""
    route_item = op.rsplit("/", 1)[0]
    route = route_item.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")
    places = {name: str(i) for i, name in enumerate(re.findall(r"{([^{}]*)}", route))}
    found: dict[tuple[str, str], str] = {}
    for base in (route_item, op):
        for index, _ in enumerate(_node(document, base).get("parameters") or []):
            pointer = document.follow(f"{base}/parameters/{index}")
            param = document.get(pointer)
            if isinstance(param, dict):
                name = str(param.get("name", ""))
                where = str(param.get("in", ""))
                found[(where, places.get(name, name) if where == "path" else name)] = pointer
    return found


_TOP_LEVEL_SKIPPED = frozenset({"openapi", "paths", "components", "webhooks"})
_OPERATION_NOTES = ("summary", "description", "tags", "deprecated", "externalDocs")


def compare_document(diff: SchemaDiff) -> None:
    """Top-level sections other than operations and schemas (info, servers, security, ...): INFO."""
    for key in sorted(set(diff.old.data) | set(diff.new.data), key=str):
        if key in _TOP_LEVEL_SKIPPED or diff.old.data.get(key) == diff.new.data.get(key):
            continue
        pointer = f"/{escape_pointer(key)}"
        diff.add("document-changed", pointer if key in diff.new.data else "", f"{key} changed")


def compare_operations(diff: SchemaDiff) -> None:
    compare_document(diff)
    old_ops, new_ops = _operations(diff.old), _operations(diff.new)
    for key, (pointer, label) in old_ops.items():
        if key not in new_ops:
            diff.add("endpoint-removed", pointer, f"{label} was removed{IN_OLD}")
    for key, (pointer, label) in new_ops.items():
        if key not in old_ops:
            diff.add("endpoint-added", pointer, f"{label} was added")
    for key in [k for k in old_ops if k in new_ops]:
        _compare_operation(diff, old_ops[key][0], new_ops[key][0], new_ops[key][1])


def _compare_operation(diff: SchemaDiff, old_op: str, new_op: str, label: str) -> None:
    old, new = diff.old, diff.new
    before, after = _node(old, old_op), _node(new, new_op)
    if before.get("operationId") != after.get("operationId"):
        diff.add("operation-id-changed", f"{new_op}/operationId" if "operationId" in after else new_op,
                 f"{label}: operationId {show_json(before.get('operationId'))} -> {show_json(after.get('operationId'))}; "
                 f"generated clients rename the method")
    for key in _OPERATION_NOTES:
        if before.get(key) != after.get(key):
            diff.add("annotation-changed", f"{new_op}/{key}" if key in after else new_op,
                     f"{label}: {key} changed")
    if before.get("security") != after.get("security"):
        diff.add("security-changed", f"{new_op}/security" if "security" in after else new_op,
                 f"{label}: security requirements changed; clients may need other credentials")
    _compare_parameters(diff, old_op, new_op, label)
    old_body = old.follow(f"{old_op}/requestBody") if old.has(f"{old_op}/requestBody") else None
    new_body = new.follow(f"{new_op}/requestBody") if new.has(f"{new_op}/requestBody") else None
    if new_body is not None:
        was_required = old_body is not None and _node(old, old_body).get("required") is True
        if _node(new, new_body).get("required") is True and not was_required:
            diff.add("request-body-now-required", f"{new_body}/required", f"{label}: a request body is now required")
    if old_body is not None and new_body is not None:
        _compare_content(diff, old_body, new_body, "request", label)
    elif old_body is not None:
        diff.add("request-body-removed", old_body, f"{label}: the request body was removed{IN_OLD}")
    old_responses = _node(old, old_op).get("responses") or {}
    new_responses = _node(new, new_op).get("responses") or {}
    for code in old_responses:
        if code not in new_responses:
            diff.add("response-status-removed", f"{old_op}/responses/{escape_pointer(code)}",
                     f"{label}: response {code} was removed{IN_OLD}")
    for code in new_responses:
        pointer = f"{new_op}/responses/{escape_pointer(code)}"
        if code not in old_responses:
            diff.add("response-status-added", pointer, f"{label}: new response status {code}")
        else:
            _compare_content(diff, old.follow(f"{old_op}/responses/{escape_pointer(code)}"), new.follow(pointer),
                             "response", f"{label} -> {code}")


def _compare_parameters(diff: SchemaDiff, old_op: str, new_op: str, label: str) -> None:
    before, after = _params(diff.old, old_op), _params(diff.new, new_op)
    for key, pointer in after.items():
        param = _node(diff.new, pointer)
        if param.get("required") is True and (key not in before or _node(diff.old, before[key]).get("required") is not True):
            diff.add("request-parameter-required-added", pointer,
                     f"{label}: {key[0]} parameter {show_json(param.get('name'))} is now required")
        elif key not in before:
            diff.add("request-parameter-added", pointer, f"{label}: new {key[0]} parameter {show_json(param.get('name'))}")
    for key, pointer in before.items():
        if key not in after:
            diff.add("request-parameter-removed", pointer,
                     f"{label}: {key[0]} parameter {show_json(_node(diff.old, pointer).get('name'))} was removed{IN_OLD}")
        elif diff.old.has(f"{pointer}/schema") and diff.new.has(f"{after[key]}/schema"):
            name = _node(diff.new, after[key]).get("name")
            diff.compare(f"{pointer}/schema", f"{after[key]}/schema", "request", f"{label} {key[0]} {name}")


def _compare_content(diff: SchemaDiff, old_holder: str, new_holder: str, direction: str, label: str) -> None:
    old_content = _node(diff.old, old_holder).get("content") or {}
    new_content = _node(diff.new, new_holder).get("content") or {}
    for media in old_content:
        old_media = f"{old_holder}/content/{escape_pointer(media)}"
        if media not in new_content:
            diff.add(f"{direction}-media-type-removed", old_media, f"{label}: {media} was removed{IN_OLD}")
            continue
        new_media = f"{new_holder}/content/{escape_pointer(media)}"
        if diff.old.has(f"{old_media}/schema") and diff.new.has(f"{new_media}/schema"):
            diff.compare(f"{old_media}/schema", f"{new_media}/schema", direction, "")  # type: ignore[arg-type]
    for media in [m for m in new_content if m not in old_content]:
        diff.add(f"{direction}-media-type-added", f"{new_holder}/content/{escape_pointer(media)}",
                 f"{label}: {media} was added")
