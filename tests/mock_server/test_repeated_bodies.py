"""The same body sent again: validated once, answered as a new call every time.

A load test or a client's retry sends identical bytes; the pipeline keeps the typed
request of a body it has parsed (``Pipeline._parse``). Each call still makes its own
job with its own seed, a refused body is refused again, and a body that differs by a
byte is parsed afresh.
"""
from __future__ import annotations

import json
from typing import Any, Callable

import pytest

from t2i_contract.spec import PARSERS
from tests.mock_server.conftest import MockClient

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every body the text2img parser is handed, in order."""
    seen: list[Any] = []
    parse = PARSERS["text2img"]

    def counting(body: Any, spec: Any = None) -> Any:
        seen.append(body)
        return parse(body, spec)

    monkeypatch.setitem(PARSERS, "text2img", counting)
    return seen


def test_the_same_bytes_are_parsed_once_and_make_a_job_each(make_mock: Callable[..., MockClient],
                                                          body: dict[str, Any], parses: list[Any]) -> None:
    mock = make_mock()
    raw = json.dumps(body | {"seed": None}).encode()
    answers = [mock.post("/api/v6/images/text2img", data=raw, headers=JSON).json() for _ in range(3)]
    assert [a["status"] for a in answers] == ["success"] * 3
    assert len({a["id"] for a in answers}) == 3
    assert len(parses) == 1
    other = mock.post("/api/v6/images/text2img", data=raw.replace(b"lighthouse", b"lightHouse"),
                      headers=JSON).json()
    assert other["status"] == "success" and other["meta"]["prompt"].endswith("lightHouse on a cliff at dawn")
    assert len(parses) == 2


def test_a_refused_body_is_refused_every_time(make_mock: Callable[..., MockClient], body: dict[str, Any],
                                              parses: list[Any]) -> None:
    mock = make_mock()
    raw = json.dumps(body | {"width": 2048}).encode()
    for _ in range(2):
        answer = mock.post("/api/v6/images/text2img", data=raw, headers=JSON)
        assert answer.status_code == 400
        assert any(problem["field"] == "width" for problem in answer.json()["errors"])
    assert len(parses) == 2
