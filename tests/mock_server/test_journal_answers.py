"""The journal shows the answer each call got: errors with their fields, generations with their links."""
from __future__ import annotations

from typing import Any, Callable

from .conftest import MockClient


def _entries(mock: MockClient) -> list[dict[str, Any]]:
    return mock.get("/__mock/requests").json()["requests"]


def test_each_entry_carries_the_answer_sent(make_mock: Callable[..., MockClient], body: dict[str, Any]) -> None:
    mock = make_mock()
    made = mock.text2img(body | {"samples": 2}).json()
    refused = mock.text2img(body | {"width": 250}).json()
    waiting = mock.text2img(body, headers={"Prefer": "status=processing, eta=30"}).json()
    fetched = mock.fetch(made["id"]).json()
    answers = [entry["answer"] for entry in _entries(mock)]
    assert answers == [made, refused, waiting, fetched]
    assert answers[1]["errors"][0]["field"] == "width" and answers[2]["status"] == "processing"


def test_a_base64_answer_keeps_only_the_length_of_each_image(make_mock: Callable[..., MockClient],
                                                             body: dict[str, Any]) -> None:
    mock = make_mock()
    made = mock.text2img(body | {"base64": True}).json()
    fetched = mock.fetch(made["id"]).json()
    assert len(fetched["output"][0]) > 2048
    kept = _entries(mock)[-1]["answer"]["output"]
    assert kept == [f"[base64, {len(fetched['output'][0])} characters]"]


def test_an_invalid_key_value_is_not_kept_in_the_answer(make_mock: Callable[..., MockClient],
                                                         body: dict[str, Any]) -> None:
    mock = make_mock()
    answer = mock.text2img(body | {"key": ""})
    assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == "key"
    kept = _entries(mock)[-1]["answer"]["errors"][0]
    assert kept["field"] == "key" and kept["value"] == "[redacted]"
