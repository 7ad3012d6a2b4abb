"""Issue 10, item 1: inputs that used to be 500s get a 400 naming the field, on both servers, over HTTP.

Reproduced before the fixes (5471b43): a width of 5,000 digits and a fetch id of 5,000 digits
hit Python's int-conversion limit (500); a body nested 978 deep passed ``json.loads`` and broke
the next ``json.dumps`` (500, and on the backend the job row was already stored); a lone
surrogate in ``track_id``, ``key`` or ``prompt`` failed in SQLite or in the tokenizer (500, or on
the backend a job reported as "generation failed"). The parse-time rules themselves are
tests/spec/test_hostile_input.py's; here each is checked end to end, and nothing may be stored.
"""
from __future__ import annotations

import json

import pytest

from tests.servers.targets import KEY

from .answers import error_fields, in_error_shape, job_id, raw_post
from .conftest import KINDS, Launch

DIGITS = "9" * 5000


def _body(**fields: object) -> str:
    return json.dumps({"key": KEY, "model_id": "tiny-sd", "prompt": "a lighthouse", "width": 256, "height": 256,
                       "num_inference_steps": 1, **fields})


def _surrogate_body(field: str) -> str:
    """A body whose ``field`` is a lone surrogate, written as the JSON escape a client would send."""
    return _body(**{field: "SURROGATE"}).replace('"SURROGATE"', '"\\ud800"')


def _nested_body(depth: int) -> str:
    return _body(track_id="NESTED").replace('"NESTED"', "[" * (depth - 1) + "]" * (depth - 1))


BODIES = {
    "width-5000-digits": (_body(width=DIGITS), "width"),
    "track_id-lone-surrogate": (_surrogate_body("track_id"), "track_id"),
    "prompt-lone-surrogate": (_surrogate_body("prompt"), "prompt"),
    "key-lone-surrogate": (_surrogate_body("key"), "key"),
    "nested-978-deep": (_nested_body(978), None),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", list(BODIES), ids=list(BODIES))
def test_a_hostile_text2img_body_is_a_400_naming_the_field_and_stores_nothing(launch: Launch, kind: str,
                                                                              case: str) -> None:
    target = launch(kind)
    before = job_id(target.text2img())
    body, field = BODIES[case]
    response = raw_post(target, "text2img", body)
    in_error_shape("text2img", response)
    if field is None:
        assert any(word in response.text.lower() for word in ("deep", "nest", "depth")), response.text
    else:
        assert field in error_fields(response), response.text
    assert target.fetch_by_id(before + 1).status_code == 404, "the refused request left a job behind"
    assert job_id(target.text2img()) != before, "the server stopped making jobs"


@pytest.mark.parametrize("kind", KINDS)
def test_a_fetch_id_of_5000_digits_is_a_400_naming_id(launch: Launch, kind: str) -> None:
    target = launch(kind)
    response = target.fetch_by_id(DIGITS)
    in_error_shape("fetchById", response)
    assert "id" in error_fields(response), response.text


@pytest.mark.parametrize("kind", KINDS)
def test_a_fetch_body_with_a_lone_surrogate_key_is_refused_naming_key(launch: Launch, kind: str) -> None:
    target = launch(kind)
    response = raw_post(target, "fetch", '{"key": "\\ud800", "request_id": 1}')
    in_error_shape("fetch", response)
    assert "key" in error_fields(response), response.text
