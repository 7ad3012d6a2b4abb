"""``t2i lint``: find the places where an OpenAPI document contradicts itself.

Rules live in four modules, each registering itself in :data:`RULES`:
``values`` (defaults, examples, enums, ranges), ``structure`` (``nullable``,
``oneOf``, required sets, paths, refs), ``prose`` (heuristics over
descriptions, level ``info``) and ``contract`` (the ``x-t2i-operation`` hints
of a contract: broken ones, and the semantics each operation leaves
unmapped). :func:`lint_document` runs them all.
"""
from __future__ import annotations

from pathlib import Path

from t2i_contract.spec import Document, read_document

from ..errors import drift_errors
from ..findings import Finding, sort_findings
from . import contract, prose, structure, values  # noqa: F401  (importing registers the rules)
from .registry import RULES, Rule, run_rules

__all__ = ["RULES", "Rule", "lint_document", "lint_path"]


def lint_document(document: Document) -> list[Finding]:
    """Every finding of every rule, most severe first."""
    return sort_findings(run_rules(document))


def lint_path(path: str | Path) -> list[Finding]:
    """Read a YAML, JSON or Markdown file and lint the OpenAPI document in it."""
    with drift_errors():
        return lint_document(read_document(path))
