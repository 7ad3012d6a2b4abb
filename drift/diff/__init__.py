"""``t2i diff OLD NEW``: sort the changes between two specs by what they do to clients.

Rule ids are stable and prefixed with the direction where it matters
(``request-enum-value-removed`` is ERR, ``response-enum-value-removed`` is INFO).
:data:`DIFF_RULES` (in :mod:`drift.diff.rules`) registers each one with its level
and summary; tests hold every rule to a fixture pair. Findings come out in one
order whatever the hash seed: document order while comparing, then
:func:`~drift.findings.sort_findings`.
"""
from __future__ import annotations

from pathlib import Path

from t2i_contract.spec import Document, read_document

from ..errors import DocumentError, drift_errors
from ..findings import Finding, sort_findings
from .operations import compare_operations
from .rules import DIFF_RULES, DiffRule
from .schemas import SchemaDiff

__all__ = ["DIFF_RULES", "DiffRule", "diff_documents", "diff_paths"]


def diff_documents(old: Document, new: Document) -> list[Finding]:
    """Every change from ``old`` to ``new`` that a client could notice, most severe first."""
    diff = SchemaDiff(old, new)
    try:
        with drift_errors():
            compare_operations(diff)
    except (TypeError, AttributeError, KeyError, IndexError, ValueError) as exc:
        # A keyword of the wrong shape; `t2i lint` names it. Never a traceback.
        raise DocumentError(f"cannot compare {old.source} and {new.source}: a document is malformed "
                            f"({type(exc).__name__}: {exc}); run t2i lint on both", new.source) from None
    return sort_findings(diff.findings)


def diff_paths(old: str | Path, new: str | Path) -> list[Finding]:
    with drift_errors():
        return diff_documents(read_document(old), read_document(new))
