"""``t2i diff OLD NEW``: sort the changes between two specs by what they do to clients.

Levels: ``error`` (shown as ERR: breaks existing clients), ``warn`` (WARN: may
break some) and ``info`` (INFO: everything else). Rule ids are stable and
prefixed with the direction where it matters (``request-enum-value-removed`` is
ERR, ``response-enum-value-removed`` is INFO). :data:`DIFF_RULES` lists them all
with their level; tests hold every rule to a fixture pair.
"""
from __future__ import annotations

from pathlib import Path

from ..document import Document, read_document
from ..errors import DocumentError
from ..findings import Finding, Level, sort_findings
from .operations import compare_operations
from .schemas import SchemaDiff

__all__ = ["DIFF_RULES", "diff_documents", "diff_paths"]

DIFF_RULES: dict[str, Level] = {
    "endpoint-removed": "error",
    "endpoint-added": "info",
    "request-body-now-required": "error",
    "request-body-removed": "error",
    "request-media-type-removed": "error",
    "request-media-type-added": "info",
    "response-media-type-removed": "error",
    "response-media-type-added": "info",
    "response-status-removed": "error",
    "response-status-added": "warn",
    "request-parameter-required-added": "error",
    "request-parameter-added": "info",
    "request-parameter-removed": "warn",
    "request-type-changed": "error",
    "response-type-changed": "error",
    "type-relaxed": "info",
    "type-narrowed": "info",
    "request-enum-value-removed": "error",
    "request-enum-value-added": "info",
    "response-enum-value-added": "warn",
    "response-enum-value-removed": "info",
    "request-range-narrowed": "error",
    "request-range-widened": "info",
    "response-range-widened": "warn",
    "response-range-narrowed": "info",
    "request-pattern-changed": "warn",
    "response-pattern-changed": "info",
    "default-changed": "warn",
    "annotation-changed": "info",
    "document-changed": "info",
    "operation-id-changed": "warn",
    "security-changed": "warn",
    "request-property-removed": "warn",
    "request-property-added": "info",
    "response-property-removed": "warn",
    "response-property-added": "info",
    "request-required-added": "error",
    "request-required-removed": "info",
    "response-required-removed": "error",
    "response-required-added": "info",
    "request-additional-properties-closed": "error",
    "request-oneof-branch-added": "info",
    "request-oneof-branch-removed": "error",
    "response-oneof-branch-added": "warn",
    "response-oneof-branch-removed": "info",
    "request-anyof-branch-added": "info",
    "request-anyof-branch-removed": "error",
    "response-anyof-branch-added": "warn",
    "response-anyof-branch-removed": "info",
}


def diff_documents(old: Document, new: Document) -> list[Finding]:
    """Every change from ``old`` to ``new`` that a client could notice, most severe first."""
    diff = SchemaDiff(old, new)
    try:
        compare_operations(diff)
    except (TypeError, AttributeError, KeyError, IndexError, ValueError) as exc:
        # A keyword of the wrong shape; `t2i lint` names it. Never a traceback.
        raise DocumentError(f"cannot compare {old.source} and {new.source}: a document is malformed "
                            f"({type(exc).__name__}: {exc}); run t2i lint on both", new.source) from None
    return sort_findings(diff.findings)


def diff_paths(old: str | Path, new: str | Path) -> list[Finding]:
    return diff_documents(read_document(old), read_document(new))
