"""Lint and diff on damaged documents: findings or a DocumentError, never a crash.

Hypothesis takes our spec and the vendor's fragment, replaces or deletes nodes
at random places (dangling refs, wrong types, odd keywords), and runs both tools.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from t2i_contract.drift.diff import diff_documents
from t2i_contract.spec.document import Document, read_document
from t2i_contract.drift.errors import DocumentError
from t2i_contract.drift.lint import lint_document
from t2i_contract.drift.lint.registry import INCOMPLETE
from t2i_contract.spec import SPEC_PATH

SOURCES = [read_document(SPEC_PATH).data,
           read_document(Path(__file__).resolve().parent / "fixtures" / "vendor-multi-lora-text2img.md").data]
JUNK = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=5), st.just([]), st.just({}),
                 st.just({"$ref": "#/nowhere"}), st.just({"type": "bogus", "default": 1}),
                 st.just({"oneOf": [{}, {}]}), st.just({"required": ["x"], "allOf": [{"$ref": "#/components"}]}))


def _nodes(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _nodes(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _nodes(value, path + (index,))
    return found


@st.composite
def damaged(draw: st.DrawFn) -> dict[str, Any]:
    data = copy.deepcopy(draw(st.sampled_from(SOURCES)))
    for _ in range(draw(st.integers(1, 4))):
        places = [p for p in _nodes(data) if p and p[0] != "openapi"]
        place = draw(st.sampled_from(places))
        parent = data
        for part in place[:-1]:
            parent = parent[part]
        if isinstance(parent, dict) and draw(st.booleans()):
            parent.pop(place[-1])
        else:
            parent[place[-1]] = copy.deepcopy(draw(JUNK))  # st.just objects are shared between examples
    return data


@given(damaged())
def test_lint_never_crashes_on_a_damaged_document(data: dict[str, Any]) -> None:
    try:
        findings = lint_document(Document(data))
    except DocumentError:
        return
    assert all(f.rule and f.level in ("error", "warn", "info") for f in findings)
    # A rule may give up on a malformed document, but only where another rule says what is malformed.
    if any(INCOMPLETE in f.message for f in findings):
        assert {f.rule for f in findings} & {"schema-malformed", "ref-unresolved"}, [
            f for f in findings if INCOMPLETE in f.message]


@given(damaged())
def test_diff_never_crashes_on_a_damaged_document(data: dict[str, Any]) -> None:
    try:
        diff_documents(Document(SOURCES[0]), Document(data))
        diff_documents(Document(data), Document(SOURCES[0]))
    except DocumentError:
        return
