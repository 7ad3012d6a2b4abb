"""Spec drift detection: lint a spec, diff two specs, check a live server, proxy real traffic.

* :func:`lint_path` / :func:`lint_document` (``t2i lint``): a document's self-contradictions;
* :func:`diff_paths` / :func:`diff_documents` (``t2i diff``): changes sorted by what they do to clients;
* :func:`drift.live.run_drift` (``t2i drift``): how a running server departs from the spec;
* :func:`drift.proxy.create_app` (``t2i proxy``): a validating proxy in front of a server.

All four report :class:`Finding` objects. Documents, pointers, ``$ref`` and
response validation are ``spec``'s (:class:`~spec.document.Document`,
:class:`~spec.responses.ResponseChecker`); ``t2i drift`` talks to the server
with ``contract_tests``' client, polling, image loading, request generation and
checks. The live and proxy parts load lazily.
"""
from __future__ import annotations

from t2i_contract.spec import Document, read_document

from .diff import DIFF_RULES, diff_documents, diff_paths
from .errors import DocumentError, DriftError, UpstreamError
from .findings import Finding, exit_code, render
from .lint import RULES, lint_document, lint_path

__all__ = [
    "DIFF_RULES",
    "RULES",
    "Document",
    "DocumentError",
    "DriftError",
    "Finding",
    "UpstreamError",
    "diff_documents",
    "diff_paths",
    "exit_code",
    "lint_document",
    "lint_path",
    "read_document",
    "render",
]
