"""The behaviour suite's checks fail on the answers they exist to catch."""
from __future__ import annotations

import pytest

from .cases import CASES, check_deliveries
from .checks import Answer, error, error_alike, generation, webhook_status_form

JSON = {"Content-Type": "application/json"}
GOOD_404 = Answer(404, JSON, {"status": "error", "message": "Generation 5 not found",
                              "errors": [{"field": "id", "rule": "exists", "message": "no generation 5", "value": 5}]})


def test_a_well_formed_error_passes() -> None:
    error(404, operation="fetchById", field="id", value=5)(GOOD_404)


@pytest.mark.parametrize("broken", [
    Answer(404, JSON, {"status": "error", "message": "Not found."}),
    Answer(404, JSON, {"status": "error", "message": "Not found.", "errors": []}),
    Answer(404, {"Content-Type": "text/html"}, GOOD_404.body),
    Answer(404, JSON, {"status": "failed", "message": "x", "errors": GOOD_404.body["errors"]}),
    Answer(418, JSON, GOOD_404.body),
], ids=["no-errors-list", "empty-errors-list", "html", "wrong-status-word", "undocumented-status"])
def test_the_error_check_refuses_a_broken_error(broken: Answer) -> None:
    with pytest.raises(AssertionError):
        error((404, 418), operation="fetchById")(broken)


def test_the_error_check_refuses_a_problem_list_that_does_not_name_the_field() -> None:
    with pytest.raises(AssertionError, match="width"):
        error(404, field="width")(GOOD_404)


def test_the_error_check_refuses_a_405_without_allow() -> None:
    answer = Answer(405, JSON, GOOD_404.body)
    with pytest.raises(AssertionError, match="Allow"):
        error(405, allow="POST")(answer)
    error(405, allow="POST")(Answer(405, {**JSON, "Allow": "OPTIONS, POST"}, GOOD_404.body))


def test_errors_differing_in_wording_or_allow_are_not_alike() -> None:
    other = Answer(404, JSON, {**GOOD_404.body, "message": "Generation not found: 5"})
    assert error_alike(other) != error_alike(GOOD_404)
    assert error_alike(Answer(404, {**JSON, "Allow": "POST"}, GOOD_404.body)) != error_alike(GOOD_404)


def test_the_generation_check_refuses_a_success_outside_the_spec() -> None:
    with pytest.raises(AssertionError):
        generation("text2img")(Answer(200, JSON, {"status": "success", "id": "seven", "output": []}))
    with pytest.raises(AssertionError):
        generation("text2img")(Answer(200, JSON, {"status": "processing", "id": 7}))


def test_webhook_status_disagreements_are_caught() -> None:
    """The issue's two wordings of one delivery, and of no webhook, are told apart."""
    case = next(c for c in CASES if c.id == "why-webhook-status-without-webhook")
    fetched = {"fetched": Answer(200, JSON, {"webhook_status": "none"})}
    empty = {"fetched": Answer(200, JSON, {"webhook_status": ""})}
    assert case.alike(Answer(200, JSON, {"webhook_status": "none"}, fetched)) != \
        case.alike(Answer(200, JSON, {"webhook_status": ""}, empty))


@pytest.mark.parametrize(("state", "text"), [
    ("none", ""),
    ("delivered", "delivered (HTTP 200, attempt 3 of 4)"),
    ("delivered", "delivered (HTTP 500 on attempt 1 of 3)"),
    ("retrying", "retrying after attempt 1 of 3"),
    ("failed", "failed after 3 attempts (last: HTTP 500)"),
])
def test_a_webhook_status_outside_the_spec_form_is_refused(state: str, text: str) -> None:
    with pytest.raises(AssertionError, match="is not the spec's"):
        webhook_status_form(state, text)


def test_the_spec_forms_read_their_placeholders() -> None:
    assert webhook_status_form("delivered", "delivered (HTTP 204 on attempt 2 of 3)") == {"N": "2", "M": "3"}
    assert webhook_status_form("failed", "failed after 3 attempts: ConnectionError")["M"] == "3"


def _success(webhook_status: str) -> Answer:
    return Answer(200, JSON, {"status": "success", "id": 5, "output": ["http://127.0.0.1/5-0.png"],
                              "webhook_status": webhook_status})


PAYLOAD = {"status": "success", "id": 5, "output": ["http://127.0.0.1/5-0.png"], "track_id": "hooked"}


def _delivery(final: str, payloads: int, observed: list[str]) -> Answer:
    return Answer(200, JSON, _success("pending").body, {"final": _success(final), "payloads": [PAYLOAD] * payloads,
                                                        "observed": [_success(s) for s in observed]})


def test_the_delivery_check_passes_a_delivery_told_in_the_spec_words() -> None:
    check_deliveries("delivered", 2)(_delivery("delivered (HTTP 200 on attempt 2 of 3)", 2,
                                               ["pending", "retrying after attempt 1 of 3: HTTP 500"]))


@pytest.mark.parametrize("broken", [
    _delivery("delivered (HTTP 200, attempt 2 of 4)", 2, ["pending", "retrying after attempt 1 of 3: HTTP 500"]),
    _delivery("delivered (HTTP 200 on attempt 2 of 3)", 3, ["pending", "retrying after attempt 1 of 3: HTTP 500"]),
    _delivery("delivered (HTTP 200 on attempt 2 of 3)", 2, ["", "retrying after attempt 1 of 3: HTTP 500"]),
    _delivery("delivered (HTTP 200 on attempt 2 of 3)", 2, ["pending", "pending"]),
    _delivery("delivered (HTTP 200 on attempt 1 of 3)", 2, ["pending", "retrying after attempt 1 of 3: HTTP 500"]),
], ids=["old-backend-wording", "one-delivery-too-many", "empty-status-before-delivery", "no-retrying-status",
        "status-counts-attempts-wrong"])
def test_the_delivery_check_refuses_a_delivery_told_otherwise(broken: Answer) -> None:
    with pytest.raises(AssertionError):
        check_deliveries("delivered", 2)(broken)
