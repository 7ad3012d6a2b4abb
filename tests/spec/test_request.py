"""Normalisation into the typed request, as servers see it."""
from __future__ import annotations

import pytest

from t2i_contract.spec import ValidationError, parse_fetch, parse_text2img

BASE = {"key": "k", "model_id": "m", "prompt": "a cat"}


def test_upstream_example_is_normalised_into_typed_values(upstream_example: dict) -> None:
    request = parse_text2img(upstream_example)
    assert request.width == 512 and type(request.width) is int
    assert request.samples == 1 and request.safety_checker is True and request.upscale is False
    assert request.lora_model == ("teddy-jacket-v1-0", "a-simple-china-dress-v6-0")
    assert request.lora_strength == (0.45, 0.55)
    assert request.loras == (("teddy-jacket-v1-0", 0.45), ("a-simple-china-dress-v6-0", 0.55))
    assert request.seed is None and request.webhook is None and request.track_id is None


def test_steps_above_the_cap_are_lowered_to_20(upstream_example: dict) -> None:
    assert upstream_example["num_inference_steps"] == "31"
    assert parse_text2img(upstream_example).num_inference_steps == 20
    assert parse_text2img({**BASE, "num_inference_steps": 12}).num_inference_steps == 12


def test_defaults_apply_to_a_minimal_body() -> None:
    request = parse_text2img(BASE)
    assert (request.width, request.height, request.samples) == (512, 512, 1)
    assert (request.guidance_scale, request.clip_skip, request.num_inference_steps) == (7.5, 2, 20)
    assert request.safety_checker_type == "sensitive_content_text"
    assert request.lora_model == () and request.lora_strength == () and request.scheduler is None


@pytest.mark.parametrize(
    ("strength", "expected"),
    [(0.7, (0.7, 0.7, 0.7)), ("0.7", (0.7, 0.7, 0.7)), (None, (1.0, 1.0, 1.0)), ("0.2, .3 ,1", (0.2, 0.3, 1.0))],
    ids=["one-float", "one-string", "absent", "one-each"],
)
def test_lora_strengths_expand_to_one_per_lora(strength: object, expected: tuple) -> None:
    body = {**BASE, "lora_model": "a, b,c"}
    if strength is not None:
        body["lora_strength"] = strength
    request = parse_text2img(body)
    assert request.lora_model == ("a", "b", "c") and request.lora_strength == expected


def test_empty_lora_model_means_no_loras() -> None:
    assert parse_text2img({**BASE, "lora_model": "", "lora_strength": 0.5}).loras == ()


def test_unknown_fields_are_tolerated_and_kept_aside() -> None:
    request = parse_text2img({**BASE, "instant_response": "no", "X-Requested-With": "client"})
    assert request.extra == {"instant_response": "no", "X-Requested-With": "client"}
    assert "instant_response" not in request.to_meta()


def test_meta_never_echoes_the_key_and_uses_lists(upstream_example: dict) -> None:
    meta = parse_text2img(upstream_example).to_meta()
    assert "key" not in meta
    assert meta["lora_model"] == ["teddy-jacket-v1-0", "a-simple-china-dress-v6-0"]
    assert meta["width"] == 512


def test_integral_floats_become_ints_and_floats_stay_floats() -> None:
    request = parse_text2img({**BASE, "width": 768.0, "guidance_scale": 7})
    assert request.width == 768 and type(request.width) is int
    assert request.guidance_scale == 7.0 and type(request.guidance_scale) is float


def test_with_seed_returns_a_copy_with_the_seed_used() -> None:
    request = parse_text2img(BASE)
    seeded = request.with_seed(42)
    assert seeded.seed == 42 and request.seed is None


@pytest.mark.parametrize(
    ("body", "path_id", "expected"),
    [({"key": "k"}, "17", 17), ({"key": "k", "request_id": "17"}, None, 17), ({"key": "k", "request_id": 17}, None, 17)],
    ids=["path-form", "body-form-string", "body-form-int"],
)
def test_both_fetch_forms_give_an_integer_id(body: dict, path_id: str | None, expected: int) -> None:
    assert parse_fetch(body, path_id=path_id).request_id == expected


@pytest.mark.parametrize(
    ("body", "path_id", "field"),
    [({"key": "k"}, "../../etc", "id"), ({}, "3", "key"), ({"key": "k"}, None, "request_id"),
     ({"key": "k", "request_id": "x1"}, None, "request_id")],
    ids=["path-traversal-id", "no-key", "no-request-id", "bad-request-id"],
)
def test_bad_fetch_calls_name_the_field(body: dict, path_id: str | None, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_fetch(body, path_id=path_id)
    assert info.value.field == field
