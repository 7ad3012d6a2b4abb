"""Every operation of the image API parses to its typed request, the vendor's published bodies included."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from t2i_contract.spec import (
    FetchRequest,
    Img2ImgRequest,
    InpaintRequest,
    ModelReloadRequest,
    Text2ImgRequest,
    ValidationError,
    load_spec,
    parse_fetch,
    parse_request,
)

PNG_BASE64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
KEY = {"key": "k", "model_id": "m"}


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example(operation: str) -> dict:
    """The vendor's published example body for an operation, as sent (strings, nulls, ``steps``)."""
    name = {"text2img": "upstream-example.json", "img2img": "upstream-img2img.json",
            "inpaint": "upstream-inpaint.json"}[operation]
    return json.loads((EXAMPLES / name).read_text())


def problems(exc: ValidationError) -> list[tuple[str, str]]:
    return [(p["field"], p["rule"]) for p in exc.to_body()["errors"]]


@pytest.mark.parametrize(("operation", "kind"), [
    ("text2img", Text2ImgRequest), ("img2img", Img2ImgRequest), ("inpaint", InpaintRequest),
    ("modelReload", ModelReloadRequest)], ids=["text2img", "img2img", "inpaint", "model_reload"])
def test_each_operation_parses_to_its_own_typed_request(operation: str, kind: type) -> None:
    _, _, op = load_spec().operation(operation)
    for item in op["requestBody"]["content"]["application/json"]["examples"].values():
        request = parse_request(operation, item["value"])
        assert type(request) is kind and kind.OPERATION == operation


@pytest.mark.parametrize("operation", ["text2img", "img2img", "inpaint"])
def test_the_vendors_published_bodies_are_accepted(operation: str) -> None:
    assert type(parse_request(operation, example(operation))).OPERATION == operation


def test_the_vendors_img2img_body_as_published_is_accepted() -> None:
    request = parse_request("img2img", example("img2img"))
    assert request.init_image.startswith("https://") and request.strength == 0.7
    assert request.num_inference_steps == 20  # "31", capped
    assert request.negative_prompt is None and request.lora_model == () and request.seed is None


def test_the_vendors_inpaint_body_with_steps_is_accepted_and_steps_counts() -> None:
    body = example("inpaint") | {"steps": "7"}
    request = parse_request("inpaint", body)
    assert request.num_inference_steps == 7
    assert "steps" not in request.to_meta() and "steps" not in request.extra
    assert request.mask_image.endswith("mask.png")


def test_num_inference_steps_wins_over_its_alias() -> None:
    body = KEY | {"init_image": PNG_BASE64, "steps": "3", "num_inference_steps": 5}
    assert parse_request("img2img", body).num_inference_steps == 5


def test_the_alias_is_validated_under_its_own_name() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_request("inpaint", KEY | {"init_image": PNG_BASE64, "mask_image": PNG_BASE64, "steps": "zero"})
    assert problems(caught.value) == [("steps", "type")]


def test_prompt_is_required_for_text2img_only() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_request("text2img", KEY)
    assert problems(caught.value) == [("prompt", "required")]
    assert parse_request("img2img", KEY | {"init_image": PNG_BASE64}).prompt == ""


@pytest.mark.parametrize(("operation", "missing"), [
    ("img2img", ["init_image"]), ("inpaint", ["init_image", "mask_image"]), ("modelReload", ["model_id"])],
    ids=["img2img", "inpaint", "model_reload"])
def test_required_fields_of_each_operation_are_named(operation: str, missing: list[str]) -> None:
    body = {"key": "k"} if operation == "modelReload" else dict(KEY)
    with pytest.raises(ValidationError) as caught:
        parse_request(operation, body)
    assert [f for f, rule in problems(caught.value) if rule == "required"] == missing


@pytest.mark.parametrize("value", [PNG_BASE64, "data:image/png;base64," + PNG_BASE64,
                                   "https://example.com/a.png", "HTTP://127.0.0.1:9/a.jpg"],
                         ids=["base64", "data-uri", "https", "upper-case-http"])
def test_input_images_are_urls_or_base64(value: str) -> None:
    assert parse_request("img2img", KEY | {"init_image": value}).init_image == value


@pytest.mark.parametrize("value", ["ftp://example.com/a.png", "file:///etc/passwd", "not base64!", ""],
                         ids=["ftp", "file", "punctuation", "empty"])
def test_other_input_image_strings_are_refused_naming_the_field(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_request("inpaint", KEY | {"init_image": PNG_BASE64, "mask_image": value})
    assert {f for f, _ in problems(caught.value)} == {"mask_image"}


def test_strength_is_a_number_from_0_to_1() -> None:
    assert parse_request("img2img", KEY | {"init_image": PNG_BASE64, "strength": "0.25"}).strength == 0.25
    with pytest.raises(ValidationError) as caught:
        parse_request("img2img", KEY | {"init_image": PNG_BASE64, "strength": 1.5})
    assert problems(caught.value) == [("strength", "maximum")]


def test_null_for_an_optional_field_means_not_sent() -> None:
    request = parse_request("text2img", KEY | {"prompt": "p", "width": None, "negative_prompt": None,
                                                "lora_strength": None, "safety_checker": None})
    assert (request.width, request.negative_prompt, request.safety_checker) == (512, None, False)


def test_null_for_a_required_field_is_still_an_error() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_request("img2img", KEY | {"init_image": None})
    assert problems(caught.value) == [("init_image", "type")]


def test_text2img_only_fields_are_extra_elsewhere() -> None:
    request = parse_request("img2img", KEY | {"init_image": PNG_BASE64, "upscale": True})
    assert request.extra == {"upscale": True} and not hasattr(request, "upscale")


def test_the_generation_operations_share_one_schema_of_common_fields() -> None:
    spec = load_spec()
    common = set(spec.schema("ImageGenerationParams")["properties"])
    for operation in ("text2img", "img2img", "inpaint"):
        assert common <= {f.name for f in spec.request_fields(operation)}
    assert {f.name for f in spec.request_fields("inpaint")} - common == {"init_image", "mask_image", "strength"}


def test_fetch_request_id_accepts_the_digits_as_a_string() -> None:
    assert parse_fetch({"key": "k", "request_id": "81234567"}) == FetchRequest(key="k", request_id=81234567)


def test_model_reload_is_a_key_and_a_model() -> None:
    request = parse_request("modelReload", {"key": "k", "model_id": "realistic-vision-51", "x": 1})
    assert (request.model_id, request.extra) == ("realistic-vision-51", {"x": 1})


def test_an_operation_without_a_body_parser_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="parse_fetch"):
        parse_request("fetch", {"key": "k"})
