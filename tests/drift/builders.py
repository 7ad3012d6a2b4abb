"""Tiny OpenAPI documents written inline, one per rule under test."""
from __future__ import annotations

from typing import Any

from t2i_contract.spec import Document

__all__ = ["document", "operation", "schema_doc"]


def document(version: str = "3.1.0", **sections: Any) -> Document:
    data: dict[str, Any] = {"openapi": version, "info": {"title": "fixture", "version": "1"}, "paths": {}}
    data.update(sections)
    return Document(data, "fixture")


def schema_doc(version: str = "3.1.0", **schemas: Any) -> Document:
    """A document whose only content is ``components.schemas``."""
    return document(version, components={"schemas": schemas})


def operation(request: Any = None, responses: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A POST operation with a JSON request schema and JSON response schemas by status."""
    op: dict[str, Any] = {"responses": {
        code: {"description": code, "content": {"application/json": {"schema": body}}}
        for code, body in (responses or {"200": {"type": "object"}}).items()
    }}
    if request is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": request}}}
    op.update(extra)
    return {"post": op}
