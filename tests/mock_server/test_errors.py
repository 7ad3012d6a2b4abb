"""Errors by rule and on demand, over real HTTP; every one in the spec's error shape."""
from __future__ import annotations

import time
from typing import Any, Callable

import pytest

from t2i_contract.protocol import ManualClock
from tests.mock_server.conftest import MockClient, conforms


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"width": 2048}, "width"),
        ({"height": "500"}, "height"),
        ({"samples": 5}, "samples"),
        ({"scheduler": "NoSuchScheduler"}, "scheduler"),
        ({"prompt": None}, "prompt"),
        ({"lora_model": "a,b", "lora_strength": "0.5,0.5,0.5"}, "lora_strength"),
        ({"webhook": "ftp://example.com/hook"}, "webhook"),
    ],
    ids=["width-too-large", "height-not-multiple-of-8", "too-many-samples", "unknown-scheduler", "null-prompt",
         "lora-count-mismatch", "webhook-not-http"],
)
def test_invalid_field_is_a_400_naming_it(mock: MockClient, body: dict[str, Any], change: dict[str, Any],
                                          field: str) -> None:
    response = mock.text2img(body | change)
    assert response.status_code == 400
    assert conforms("text2img", response) == []
    answer = response.json()
    assert answer["status"] == "error"
    assert field in answer["message"]
    assert field in [p["field"] for p in answer["errors"]]


def test_missing_required_field_is_named(mock: MockClient, body: dict[str, Any]) -> None:
    del body["model_id"]
    answer = mock.text2img(body).json()
    assert answer["errors"][0]["field"] == "model_id"


@pytest.mark.parametrize(
    ("data", "content_type", "rule"),
    [
        ("{not json", "application/json", "json"),
        ("[1, 2]", "application/json", "object"),
        ("\xff\xfe", "application/json", "json"),
        ('{"key": "k"}', "text/plain", "content_type"),
        ("key=k&prompt=x", "application/x-www-form-urlencoded", "content_type"),
    ],
    ids=["broken-json", "array", "not-utf8", "text-plain", "form"],
)
def test_unreadable_bodies_get_the_error_shape(mock: MockClient, data: str, content_type: str, rule: str) -> None:
    for path, operation in (("text2img", "text2img"), ("fetch/1", "fetchById"), ("fetch", "fetch")):
        response = mock.post(path, data=data.encode("latin-1"), headers={"Content-Type": content_type})
        assert response.status_code == 400, path
        assert conforms(operation, response) == []
        assert response.json()["errors"][0]["rule"] == rule


def test_body_over_one_mebibyte_is_a_400_not_a_413(mock: MockClient, body: dict[str, Any]) -> None:
    big = body | {"negative_prompt": "x" * (1024 * 1024)}
    response = mock.text2img(big)
    assert response.status_code == 400
    assert conforms("text2img", response) == []
    assert "1048576" in response.json()["message"]


def test_chunked_body_over_the_limit_is_refused(make_mock: Callable[..., MockClient], body: dict[str, Any]) -> None:
    mock = make_mock(max_body=1000)

    def chunks() -> Any:
        yield b'{"key": "k", "model_id": "m", "prompt": "'
        for _ in range(20):
            yield b"y" * 100
        yield b'"}'

    headers = {"Content-Type": "application/json"}
    response = mock.post("text2img", data=chunks(), headers=headers)  # type: ignore[arg-type]
    assert response.status_code == 400
    assert response.json()["errors"][0]["rule"] == "max_size"


def test_keys_turn_on_auth(make_mock: Callable[..., MockClient], body: dict[str, Any]) -> None:
    mock = make_mock(keys=("k1", "k2"))
    assert mock.text2img(body | {"key": "k2"}).status_code == 200
    for bad in ({"key": "nope"}, {}):
        sent = {k: v for k, v in body.items() if k != "key"} | bad
        response = mock.text2img(sent)
        assert response.status_code == 401
        answer = response.json()
        assert answer["message"] == "Invalid API key"
        assert [p["field"] for p in answer["errors"]] == ["key"]
        assert conforms("text2img", response) == []
    job = mock.text2img(body | {"key": "k1"}).json()["id"]
    assert mock.fetch(job, key="wrong").status_code == 401
    assert mock.fetch(job, key="k1").status_code == 200
    assert mock.fetch_body(job, key="wrong").status_code == 401


@pytest.mark.parametrize("code", [401, 402, 404, 429, 500, 503])
def test_prefer_code_forces_that_error(mock: MockClient, body: dict[str, Any], code: int) -> None:
    response = mock.text2img(body, headers={"Prefer": f"code={code}"})
    assert response.status_code == code
    assert conforms("text2img", response) == []
    if code == 429:
        assert response.json()["retry_after"] == 30
    if code != 402:
        fetched = mock.post("fetch/1", {"key": "k"}, headers={"Prefer": f"code={code}"})
        assert fetched.status_code == code
        assert conforms("fetchById", fetched) == []


@pytest.mark.parametrize("prefer", ["code=418", "code=abc", "status=done", "eta=soon", "eta=-1"])
def test_unusable_prefer_values_are_a_400_naming_the_header(mock: MockClient, body: dict[str, Any],
                                                            prefer: str) -> None:
    response = mock.text2img(body, headers={"Prefer": prefer})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "Prefer"
    assert conforms("text2img", response) == []


def test_forcing_402_on_fetch_is_refused_because_fetch_does_not_document_it(mock: MockClient) -> None:
    response = mock.post("fetch/1", {"key": "k"}, headers={"Prefer": "code=402"})
    assert response.status_code == 400
    assert conforms("fetchById", response) == []


def test_max_queued_refuses_with_429_and_retry_after(make_mock: Callable[..., MockClient],
                                                      body: dict[str, Any]) -> None:
    clock = ManualClock()
    mock = make_mock(max_queued=2, processing_ratio=1.0, eta=0.6, clock=clock)
    assert [mock.text2img(body).status_code for _ in range(2)] == [200, 200]
    refused = mock.text2img(body)
    assert refused.status_code == 429
    assert conforms("text2img", refused) == []
    assert refused.json()["retry_after"] == 30
    assert "Maximum 2 queued requests" in refused.json()["message"]
    assert mock.text2img(body).status_code == 429
    assert mock.text2img({**body, "key": "another-key"}).status_code == 200  # the limit is per key
    clock.advance(0.6)  # the queue drains as jobs become ready
    assert mock.text2img(body).status_code == 200


@pytest.mark.parametrize(("latency", "low"), [((150.0, 150.0), 0.14), ((100.0, 200.0), 0.09)],
                         ids=["fixed", "range"])
def test_latency_delays_every_api_answer(make_mock: Callable[..., MockClient], body: dict[str, Any],
                                         latency: tuple[float, float], low: float) -> None:
    mock = make_mock(latency=latency)
    for call in (lambda: mock.text2img(body), lambda: mock.fetch(1)):
        started = time.monotonic()
        call()
        assert time.monotonic() - started >= low  # a lower bound only: a loaded machine may be slower


def test_unknown_route_and_method_get_the_error_shape(mock: MockClient) -> None:
    missing = mock.post("/api/v6/images/nothing", {"key": "k"})
    assert missing.status_code == 404
    assert missing.json()["status"] == "error"
    wrong = mock.get("/api/v6/images/text2img")
    assert wrong.status_code == 405
    assert wrong.json()["status"] == "error" and "GET" in wrong.json()["message"]
    assert wrong.headers["Allow"] == "OPTIONS, POST"
    assert [p["rule"] for p in wrong.json()["errors"]] == ["method"]
    assert [p["rule"] for p in missing.json()["errors"]] == ["route"]


def test_an_unexpected_failure_is_a_500_in_the_error_shape(make_mock: Callable[..., MockClient],
                                                           body: dict[str, Any]) -> None:
    mock = make_mock()

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    mock.runtime.store.add_job = explode  # type: ignore[method-assign]
    response = mock.text2img(body)
    assert response.status_code == 500
    assert response.json()["message"] == "Internal server error. Please try again."
    assert response.json()["errors"][0]["field"] == ""
    assert conforms("text2img", response) == []


def test_a_failure_after_the_job_is_stored_is_a_500_and_stores_one_job(make_mock: Callable[..., MockClient],
                                                                         body: dict[str, Any]) -> None:
    mock = make_mock()

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("renderer on fire")

    mock.runtime.view = explode  # type: ignore[method-assign]
    response = mock.text2img(body)
    assert response.status_code == 500
    assert conforms("text2img", response) == []
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert mock.runtime.store.count_jobs() == 1
