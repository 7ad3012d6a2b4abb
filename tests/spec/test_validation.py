"""Bad values are rejected with messages that name the field, the value and the rule."""
from __future__ import annotations

from typing import Any

import pytest

from t2i_contract.spec import BodyError, ValidationError, parse_json_body, parse_text2img

BASE = {"key": "k", "model_id": "f222-diffusion", "prompt": "a cat"}


def rejected(**fields: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        parse_text2img({**BASE, **fields})
    return info.value


def test_width_over_the_maximum_names_field_value_and_rule() -> None:
    error = rejected(width=2048)
    assert str(error) == "width must be at most 1024, got 2048"
    assert [(p.field, p.rule, p.value) for p in error.problems] == [("width", "maximum", 2048)]


def test_a_wire_string_out_of_range_reports_the_value_as_sent() -> None:
    error = rejected(width="2048")
    assert error.problems[0].rule == "maximum"
    assert error.problems[0].value == "2048"
    assert 'got 2048' in str(error)


@pytest.mark.parametrize(
    ("fields", "field", "rule", "words"),
    [
        ({"width": "wide"}, "width", "type", ['width must be an integer', '"wide"']),
        ({"samples": 5}, "samples", "maximum", ["samples must be at most 4", "5"]),
        ({"samples": 0}, "samples", "minimum", ["samples must be at least 1", "0"]),
        ({"height": 500}, "height", "multipleOf", ["height must be a multiple of 8", "500"]),
        ({"guidance_scale": 0.5}, "guidance_scale", "minimum", ["guidance_scale must be at least 1"]),
        ({"scheduler": "FooScheduler"}, "scheduler", "enum", ["scheduler must be one of", '"FooScheduler"']),
        ({"safety_checker": "maybe"}, "safety_checker", "type", ["safety_checker must be a boolean", '"maybe"']),
        ({"seed": -1}, "seed", "minimum", ["seed must be at least 0"]),
        ({"seed": "abc"}, "seed", "type", ["seed must be an integer or null", '"abc"']),
        ({"lora_model": "../../etc/passwd"}, "lora_model", "pattern", ["lora_model must", '"../../etc/passwd"']),
        ({"lora_strength": 1.5}, "lora_strength", "maximum", ["lora_strength must be at most 1", "1.5"]),
        ({"webhook": "ftp://x"}, "webhook", "pattern", ["webhook must", '"ftp://x"']),
        ({"prompt": ""}, "prompt", "minLength", ["prompt must not be empty"]),
        ({"algorithm_type": "dpmsolver++"}, "algorithm_type", "enum", ['"dpmsolver++"']),
    ],
    ids=["wrong-type", "over-max", "under-min", "not-multiple", "float-min", "unknown-enum", "bad-flag",
         "negative-seed", "seed-type", "path-in-lora", "strength-range", "webhook-scheme", "empty-prompt",
         "unknown-algorithm"],
)
def test_bad_values_are_rejected_with_the_field_named(fields: dict, field: str, rule: str, words: list[str]) -> None:
    error = rejected(**fields)
    assert (error.field, error.problems[0].rule) == (field, rule)
    for word in words:
        assert word in str(error)


@pytest.mark.parametrize("missing", ["key", "model_id", "prompt"])
def test_missing_required_field_is_named(missing: str) -> None:
    body = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(ValidationError) as info:
        parse_text2img(body)
    assert str(info.value) == f"{missing} is required"
    assert info.value.problems[0].rule == "required"


def test_strength_count_neither_one_nor_one_per_lora_is_rejected() -> None:
    error = rejected(lora_model="a,b", lora_strength="0.5,0.6,0.7")
    assert error.field == "lora_strength" and error.problems[0].rule == "count"
    assert "one per LoRA in lora_model (2)" in str(error) and "got 3 values" in str(error)


def test_every_problem_is_reported_not_only_the_first() -> None:
    error = rejected(width=2048, samples=9, scheduler="Nope")
    assert {p.field for p in error.problems} == {"width", "samples", "scheduler"}
    body = error.to_body()
    assert body["status"] == "error"
    assert [e["field"] for e in body["errors"]] == ["width", "samples", "scheduler"]
    assert all(set(e) >= {"field", "rule", "message", "value"} for e in body["errors"])


@pytest.mark.parametrize(
    ("raw", "rule", "words"),
    [
        (b"{not json", "json", "not valid JSON"),
        (b"\xff\xfe", "json", "UTF-8"),
        (b'{"width": NaN}', "json", "NaN"),
        (b'{"width": 1e999}', "json", "too large"),
        (b"[1, 2]", "object", "got an array"),
        (b'"text"', "object", "got a string"),
        (b"null", "object", "got null"),
    ],
    ids=["malformed", "not-utf8", "nan", "infinite", "array", "string", "null"],
)
def test_bodies_that_are_not_a_json_object_get_the_error_shape(raw: bytes, rule: str, words: str) -> None:
    with pytest.raises(BodyError) as info:
        parse_json_body(raw)
    body = info.value.to_body()
    assert body["status"] == "error" and words in body["message"]
    assert body["errors"][0]["rule"] == rule and body["errors"][0]["field"] == ""


def test_a_non_mapping_given_to_parse_text2img_is_a_body_error() -> None:
    with pytest.raises(BodyError, match="must be a JSON object"):
        parse_text2img(["key"])


def test_pattern_failures_say_what_is_accepted_in_words() -> None:
    error = rejected(model_id="../x", webhook="ftp://a")
    messages = {p.field: p.message for p in error.problems}
    assert messages["model_id"] == "model_id must be a slug of letters, digits, '.', '_' and '-' " \
                                   "that starts with a letter or digit, got \"../x\""
    assert messages["webhook"] == 'webhook must be an http:// or https:// URL, got "ftp://a"'
