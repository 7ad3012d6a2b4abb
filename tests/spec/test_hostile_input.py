"""Hostile bodies are refused at parse time with a problem naming the field, never a crash later.

Each case here once reached a server as a 500: a digit string past Python's
4,300-digit conversion limit, nesting that passes ``json.loads`` but breaks the
next ``json.dumps``, and lone surrogates that no UTF-8 encoder accepts.
"""
from __future__ import annotations

import json

import pytest

from t2i_contract.spec import BodyError, RequestError, ValidationError, parse_fetch, parse_json_body, parse_text2img
from t2i_contract.spec.body import MAX_DEPTH
from t2i_contract.spec.coercion import MAX_INTEGER_DIGITS

BASE = {"key": "k", "model_id": "m", "prompt": "p"}


def problem(exc: RequestError) -> dict:
    (first, *_) = exc.to_body()["errors"]
    return first


@pytest.mark.parametrize("field", ["width", "samples", "seed", "clip_skip"])
def test_an_integer_string_past_the_conversion_limit_is_a_problem_naming_the_field(field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_text2img(BASE | {field: "9" * 5000})
    assert problem(caught.value)["field"] == field
    assert problem(caught.value)["rule"] == "digits"
    assert "5000 digits" in caught.value.message


def test_the_digit_bound_leaves_every_allowed_integer_readable() -> None:
    longest = "0" * (MAX_INTEGER_DIGITS - 1) + "7"
    assert parse_text2img(BASE | {"seed": longest}).seed == 7
    with pytest.raises(ValidationError, match="at most 1024"):
        parse_text2img(BASE | {"width": "9" * MAX_INTEGER_DIGITS})


def test_a_fetch_id_past_the_conversion_limit_is_a_problem_naming_id() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_fetch({"key": "k"}, path_id="1" * 5000)
    assert problem(caught.value)["field"] == "id"


def nested(depth: int) -> str:
    return '{"prompt": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


def test_nesting_at_the_bound_parses_and_one_level_more_is_refused() -> None:
    assert parse_json_body(nested(MAX_DEPTH))
    with pytest.raises(BodyError) as caught:
        parse_json_body(nested(MAX_DEPTH + 1))
    assert problem(caught.value)["rule"] == "depth"
    assert f"deeper than {MAX_DEPTH}" in caught.value.message


@pytest.mark.parametrize("depth", [970, 978, 985, 100_000], ids=["970", "978", "985", "100k"])
def test_the_depth_window_that_broke_json_dumps_is_refused_at_parse_time(depth: int) -> None:
    with pytest.raises(BodyError, match="nested deeper"):
        parse_json_body(nested(depth))


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    body = parse_json_body(json.dumps(BASE | {"prompt": "[{" * 500}))
    assert parse_text2img(body).prompt == "[{" * 500


@pytest.mark.parametrize("field", ["track_id", "key", "prompt", "negative_prompt"])
def test_a_lone_surrogate_is_refused_naming_its_field(field: str) -> None:
    raw = json.dumps(BASE).replace("}", f', "{field}": "a\\ud800b"}}') if field not in BASE else \
        json.dumps(BASE).replace(f'"{field}": "{BASE[field]}"', f'"{field}": "a\\ud800b"')
    with pytest.raises(BodyError) as caught:
        parse_json_body(raw)
    assert problem(caught.value) | {"message": ""} == {"field": field, "rule": "string", "message": "",
                                                        "value": "a\\ud800b"}
    assert "unpaired" in caught.value.message


def test_a_surrogate_pair_is_an_ordinary_character() -> None:
    assert parse_json_body('{"prompt": "\\ud83d\\ude00"}') == {"prompt": "\U0001F600"}


def test_lone_surrogates_in_nested_values_and_names_are_found() -> None:
    with pytest.raises(BodyError) as caught:
        parse_json_body('{"extra": {"list": ["ok", "\\udfff"]}, "\\ud801": 1}')
    fields = [p["field"] for p in caught.value.to_body()["errors"]]
    assert fields == ["extra.list[1]", "\\ud801"]


@pytest.mark.parametrize("url", ["HTTP://example.com/hook", "Https://example.com/hook", "hTtP://127.0.0.1:9/"],
                         ids=["upper", "capitalised", "mixed"])
def test_url_schemes_are_case_insensitive(url: str) -> None:
    """RFC 3986: schemes are case-insensitive; whether the host may be contacted is the URL policy's call."""
    assert parse_text2img(BASE | {"webhook": url, "ip_adapter_image": url}).webhook == url
