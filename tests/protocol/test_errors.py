"""The one error handler: every failure is the spec's error shape with an ``errors`` list."""
from __future__ import annotations

from typing import Any

import pytest
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.exceptions import NotFound as WerkzeugNotFound

from t2i_contract.protocol import (
    AuthError,
    ForcedError,
    NotFound,
    QueueFull,
    RequestRejected,
    error_answer,
)
from t2i_contract.protocol.urls import UrlPolicy
from t2i_contract.spec import Problem, ValidationError, load_spec


def _shape_problems(status: int, body: dict[str, Any]) -> list[str]:
    return load_spec().responses.check("text2img", status, body) if status != 405 else []


@pytest.mark.parametrize(("exc", "status"), [
    (RequestRejected("Content-Type", "content_type", "Content-Type must be JSON", "text/plain"), 400),
    (ValidationError([Problem("width", "maximum", "width must be at most 1024", 2048)]), 400),
    (AuthError(), 401),
    (NotFound.generation(42), 404),
    (WerkzeugNotFound(), 404),
    (WerkzeugMethodNotAllowed(valid_methods=["POST"]), 405),
    (QueueFull(2, 30), 429),
    (ForcedError(503), 503),
    (RuntimeError("secret detail"), 500),
], ids=["rejected", "validation", "401", "404-generation", "404-route", "405", "429", "forced-503", "crash"])
def test_every_failure_is_the_error_shape_with_an_errors_list(exc: Exception, status: int) -> None:
    got, body, _ = error_answer(exc, "POST", "/api/v6/images/text2img")
    assert got == status
    assert body["status"] == "error" and body["message"]
    assert body["errors"] and all({"field", "rule", "message"} <= set(p) for p in body["errors"])
    assert "secret" not in str(body)
    assert _shape_problems(status, body) == []


def test_a_405_names_the_allowed_methods_in_allow() -> None:
    status, body, headers = error_answer(WerkzeugMethodNotAllowed(valid_methods=["OPTIONS", "POST"]),
                                         "GET", "/api/v6/images/text2img")
    assert status == 405 and headers == {"Allow": "OPTIONS, POST"}
    assert body["message"] == "Method not allowed: GET /api/v6/images/text2img; use OPTIONS, POST"


def test_a_404_route_names_the_method_and_path() -> None:
    _, body, _ = error_answer(WerkzeugNotFound(), "GET", "/nope")
    assert body["message"] == "Not found: no route GET /nope"
    assert body["errors"][0] == {"field": "", "rule": "route", "message": body["message"], "value": "/nope"}


def test_a_429_says_when_to_retry_in_body_and_header() -> None:
    status, body, headers = error_answer(QueueFull(2, 7))
    assert (status, body["retry_after"], headers["Retry-After"]) == (429, 7, "7")


def test_a_url_the_policy_refuses_is_a_400_naming_field_and_flag() -> None:
    policy = UrlPolicy()
    with pytest.raises(Exception) as caught:
        policy.check("http://127.0.0.1:9/hook", field="webhook")
    status, body, _ = error_answer(caught.value)
    assert status == 400
    assert body["errors"][0]["field"] == "webhook" and "--private-urls allow" in body["message"]
