"""Response validation: every body matches exactly one branch, and the checker can say no."""
from __future__ import annotations

import pytest

from t2i_contract.spec import load_spec

CHECK = load_spec().responses

SUCCESS = {"status": "success", "id": 7, "output": ["http://x/1.png"], "generationTime": 1.2, "meta": {},
           "proxy_links": [], "nsfw_content_detected": False, "webhook_status": "none"}
PROCESSING = {"status": "processing", "id": 7, "eta": 3, "fetch_result": "http://x/api/v6/images/fetch/7",
              "future_links": ["http://x/1.png"], "output": [], "meta": {}}
ERROR = {"status": "error", "message": "width must be at most 1024, got 2048"}


@pytest.mark.parametrize("body", [SUCCESS, PROCESSING, ERROR], ids=["success", "processing", "error"])
def test_each_branch_validates_under_200(body: dict) -> None:
    assert CHECK.check("text2img", 200, body) == []
    assert CHECK.check("fetch", 200, body) == []


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({k: v for k, v in SUCCESS.items() if k != "output"}, "'output' is a required property"),
        ({**SUCCESS, "id": "7"}, "'7' is not of type 'integer'"),
        ({**SUCCESS, "output": ["a"] * 5}, "too long"),
        ({**PROCESSING, "output": ["x"]}, "output"),
        ({"message": "no status"}, "status"),
        ({"status": "failed", "message": "x"}, "'failed' is not one of"),
        ({"status": "error", "messege": "legacy typo"}, "'message' is a required property"),
    ],
    ids=["no-output", "string-id", "five-outputs", "processing-with-output", "no-status", "unknown-status",
         "messege-typo"],
)
def test_non_conforming_bodies_are_reported(body: dict, words: str) -> None:
    problems = CHECK.check("text2img", 200, body)
    assert problems and any(words in p for p in problems), problems


def test_4xx_answers_must_be_the_error_shape() -> None:
    assert CHECK.check("text2img", 400, ERROR) == []
    assert CHECK.check("text2img", 401, SUCCESS) != []


def test_undocumented_status_is_a_problem() -> None:
    assert CHECK.check("fetch", 418, ERROR) == ["HTTP 418 is not a documented response of fetch"]


def test_webhook_payloads_validate_both_branches() -> None:
    ok = {"status": "success", "id": 3, "output": ["http://x/1.png"], "track_id": None, "meta": {}}
    failed = {"status": "failed", "id": 3, "message": "boom", "track_id": "t-1"}
    assert CHECK.check_webhook(ok) == [] and CHECK.check_webhook(failed) == []
    assert CHECK.check_webhook({**ok, "output": "http://x/1.png"}) != []
