"""Issue 9's behaviour suite: one table of cases (``cases.py``), run against both servers.

The mock runs twice: as an app on a test thread and as ``t2i mock`` is run by users (its own
process, on granian, with its WSGI fast path), so the table also holds the served mock to the
same answers.

``test_case_holds_on_each_server`` judges each server's answer on its own: the spec's error
shape with its ``errors`` list on every non-2xx status, ``Allow`` on 405, documented statuses,
webhook payloads and ``webhook_status`` words the spec accepts, ``meta`` that echoes the request.
``test_servers_answer_alike`` then demands that every server gave the same answer where a
client could tell them apart. Both run over real HTTP; the backend runs the tiny diffusers model.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from t2i_contract.spec import load_spec

from .cases import CASES, Case
from .targets import KINDS

if TYPE_CHECKING:
    from .conftest import Answers

CASE_IDS = [case.id for case in CASES]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_case_holds_on_each_server(case: Case, kind: str, answers: Answers) -> None:
    case.check(answers(case, kind))


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_servers_answer_alike(case: Case, answers: Answers) -> None:
    seen = {kind: case.alike(answers(case, kind)) for kind in KINDS}
    assert all(value == seen[KINDS[0]] for value in seen.values()), f"the servers answer {case.id} differently: {seen}"


def _constrains(schema: Any) -> bool:
    spec = load_spec()
    schema = spec.resolve(schema)
    if not isinstance(schema, dict):
        return False
    if any(word in schema for word in ("pattern", "enum", "const")):
        return True
    return any(all(_constrains(branch) for branch in schema[word]) for word in ("anyOf", "oneOf")
               if isinstance(schema.get(word), list) and schema[word])


@pytest.mark.parametrize("response", ["SuccessResponse", "ProcessingResponse"])
def test_spec_holds_webhook_status_to_one_vocabulary(response: str) -> None:
    """Response validation, and so every check above, can refuse a word outside the vocabulary."""
    prop = load_spec().schema(response)["properties"]["webhook_status"]
    assert _constrains(prop), f"{response}.webhook_status accepts any text: {prop}"
