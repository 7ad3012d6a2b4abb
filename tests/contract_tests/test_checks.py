"""The single-response verdicts, each shown to pass on good input and to fail on bad input."""
from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from PIL import Image

from t2i_contract.contract_tests import checks
from t2i_contract.contract_tests.client import NO_JSON, Exchange
from t2i_contract.contract_tests.images import LoadedImage, decode_image
from t2i_contract.spec import load_spec, parse_text2img

SPEC = load_spec()
SUCCESS = {"status": "success", "id": 7, "output": ["http://h/a.png"], "meta": {}}


def exchange(status: int, body: Any = NO_JSON, operation: str = "text2img",
             content_type: str = "application/json") -> Exchange:
    content = b"<html>not json</html>" if body is NO_JSON else json.dumps(body).encode()
    return Exchange("POST", "http://h/api/v6/images/text2img", operation, body={"key": "k"},
                    status=status, json=body, content=content, text=content.decode(), content_type=content_type)


def request(**fields: Any) -> Any:
    return parse_text2img({"key": "k", "model_id": "m", "prompt": "p"} | fields, SPEC)


@pytest.mark.parametrize(("status", "body", "ok"), [
    (200, SUCCESS, True),
    (200, {"status": "processing", "id": 7, "eta": 2, "output": []}, True),
    (200, {"status": "error", "message": "bad"}, True),
    (400, {"status": "error", "message": "width must be at most 1024, got 2048"}, True),
    (200, {"id": 7, "output": []}, False),
    (200, {"status": "success", "id": "7", "output": []}, False),
    (200, {"status": "processing", "id": 7, "output": ["x"]}, False),
    (400, SUCCESS, False),
    (418, {"status": "error", "message": "teapot"}, False),
    (200, NO_JSON, False),
], ids=["success", "processing", "error-under-200", "400", "no-status", "string-id", "processing-with-output",
        "success-under-400", "undocumented-status", "not-json"])
def test_conformance(status: int, body: Any, ok: bool) -> None:
    assert (checks.conformance(SPEC, exchange(status, body)) == []) is ok


def test_conformance_flags_a_non_json_content_type() -> None:
    problems = checks.conformance(SPEC, exchange(200, SUCCESS, content_type="text/html"))
    assert problems == ["Content-Type is text/html, not application/json"]


def test_no_server_error_allows_503_but_not_500_or_silence() -> None:
    assert checks.no_server_error(exchange(503, {"status": "error", "message": "busy"})) == []
    assert checks.no_server_error(exchange(500, {"status": "error", "message": "x"})) == ["HTTP 500"]
    silent = Exchange("POST", "http://h/", "text2img", error="ConnectionError: refused")
    assert checks.no_server_error(silent) == ["no HTTP answer (ConnectionError: refused)"]


@pytest.mark.parametrize(("status", "body", "rejected"), [
    (400, {"status": "error", "message": "x"}, True),
    (200, {"status": "error", "message": "x"}, True),
    (422, NO_JSON, True),
    (500, {"status": "error", "message": "x"}, True),  # reported by no_server_error instead
    (200, SUCCESS, False),
    (200, {"status": "processing", "id": 1}, False),
], ids=["400", "error-under-200", "422-not-json", "500-left-to-no-server-error", "success", "processing"])
def test_invalid_rejected(status: int, body: Any, rejected: bool) -> None:
    assert (checks.invalid_rejected(exchange(status, body)) == []) is rejected


@pytest.mark.parametrize(("status", "body", "accepted"), [
    (200, SUCCESS, True),
    (200, {"status": "processing", "id": 1}, True),
    (429, {"status": "error", "message": "slow down", "retry_after": 3}, True),
    (200, {"status": "error", "message": "Model not found: m"}, False),
    (400, {"status": "error", "message": "width must be a multiple of 8"}, False),
    (404, {"status": "error", "message": "Model not found: m"}, False),
], ids=["success", "processing", "429", "error-under-200", "400", "404"])
def test_valid_accepted(status: int, body: Any, accepted: bool) -> None:
    problems = checks.valid_accepted(exchange(status, body))
    assert (problems == []) is accepted
    if not accepted:
        assert body["message"] in problems[0]


def refusal(field: str, **extra: Any) -> dict[str, Any]:
    message = f"{field} cannot run on this model"
    return {"status": "error", "message": message, "errors": [{"field": field, "rule": "supported",
                                                                "message": message, **extra}]}


SENT = {"scheduler": "DDPMScheduler"}


@pytest.mark.parametrize(("status", "body", "dependent", "accepted"), [
    (400, refusal("scheduler", value="DDPMScheduler"), SENT, True),
    (400, refusal("scheduler"), SENT, True),
    (400, refusal("scheduler", value="HeunDiscreteScheduler"), SENT, False),
    (400, refusal("width", value=512), SENT, False),
    (400, refusal("scheduler", value="DDPMScheduler") | {"errors": [
        {"field": "scheduler", "rule": "supported", "message": "m", "value": "DDPMScheduler"},
        {"field": "width", "rule": "maximum", "message": "m", "value": 4096}]}, SENT, False),
    (400, {"status": "error", "message": "scheduler cannot run", "errors": []}, SENT, False),
    (400, {"status": "error", "message": "scheduler cannot run"}, SENT, False),
    (404, refusal("scheduler", value="DDPMScheduler"), SENT, False),
    (400, refusal("scheduler", value="DDPMScheduler"), {}, False),
], ids=["named-with-value", "named", "another-value", "another-field", "and-another-field", "empty-errors",
        "no-errors", "404", "scheduler-not-sent"])
def test_valid_accepted_takes_only_a_400_naming_the_model_dependent_value(
        status: int, body: Any, dependent: dict[str, Any], accepted: bool) -> None:
    assert (checks.valid_accepted(exchange(status, body), dependent) == []) is accepted
    assert checks.refused_for_the_model(exchange(status, body), dependent) is accepted


def test_sample_count() -> None:
    assert checks.sample_count(request(samples="2"), {"output": ["a", "b"]}) == []
    assert checks.sample_count(request(samples=2), {"output": ["a"]}) == ["1 output item(s) for samples=2"]
    assert checks.sample_count(request(), {"output": "a"}) == ["None output item(s) for samples=1"]


def test_image_size_doubles_with_upscale_and_reports_problems() -> None:
    good = LoadedImage(0, "u", (512, 768), "f")
    assert checks.image_size(SPEC, request(width=256, height=384, upscale="yes"), [good]).problems == []
    assert checks.image_size(SPEC, request(width=512, height=768), [good]).problems == []
    assert checks.image_size(SPEC, request(), [good]).problems == ["output[0] is 512x768, expected 512x512"]
    broken = LoadedImage(1, "u", problem="output[1] answered HTTP 404")
    assert checks.image_size(SPEC, request(), [broken]).problems == ["output[1] answered HTTP 404"]


def test_meta_echo_accepts_equivalent_forms() -> None:
    sent = {"key": "k", "model_id": "m", "prompt": "p", "width": "512", "safety_checker": "yes",
            "lora_model": "a, b", "lora_strength": "0.5", "seed": 3, "num_inference_steps": 31}
    meta = {"model_id": "m", "prompt": "p", "width": 512, "safety_checker": True, "lora_model": "a,b",
            "lora_strength": [0.5, 0.5], "seed": 3, "num_inference_steps": 20}
    assert checks.meta_echo(SPEC, parse_text2img(sent, SPEC), sent, {"meta": meta}) == []


@pytest.mark.parametrize(("meta", "problem"), [
    (None, "meta is missing"),
    ({"model_id": "m", "seed": 3}, "meta lacks prompt"),
    ({"model_id": "m", "prompt": "p", "seed": 4}, "meta.seed is 4, but the request's seed is 3"),
    ({"model_id": "other", "prompt": "p", "seed": 3}, "meta.model_id is 'other'"),
], ids=["no-meta", "missing-field", "other-seed", "other-model"])
def test_meta_echo_fails_when_meta_differs(meta: Any, problem: str) -> None:
    sent = {"key": "k", "model_id": "m", "prompt": "p", "seed": 3}
    problems = checks.meta_echo(SPEC, parse_text2img(sent, SPEC), sent, {"meta": meta})
    assert problems and problem in problems[0]


def test_meta_echo_needs_the_seed_used_when_seed_was_null() -> None:
    sent = {"key": "k", "model_id": "m", "prompt": "p", "seed": None}
    req = parse_text2img(sent, SPEC)
    assert checks.meta_echo(SPEC, req, sent, {"meta": {"model_id": "m", "prompt": "p", "seed": 99}}) == []
    assert "with seed null" in checks.meta_echo(SPEC, req, sent, {"meta": {"model_id": "m", "prompt": "p"}})[0]


def test_defaults_checks_count_size_and_default_meta() -> None:
    req = request()
    image = [LoadedImage(0, "u", (512, 512), "f")]
    good = {"output": ["u"], "meta": {"width": 512, "guidance_scale": 7.5, "samples": 1, "seed": 5}}
    assert checks.defaults(SPEC, req, good, image) == []
    wrong = good | {"meta": {"guidance_scale": 5.0}}
    assert checks.defaults(SPEC, req, wrong, image) == ["meta.guidance_scale is 5.0, but the spec's default is 7.5"]
    assert checks.defaults(SPEC, req, good, [LoadedImage(0, "u", (256, 256), "f")]) == [
        "output[0] is 256x256, expected 512x512"]


def test_a_field_sent_under_its_deprecated_second_name_is_not_a_default_departure() -> None:
    """``steps`` stands for ``num_inference_steps`` (x-t2i-alias-of): a server that honours it is right."""
    sent = {"key": "k", "model_id": "m", "prompt": "p", "steps": "3"}
    req = parse_text2img(sent, SPEC)
    image = [LoadedImage(0, "u", (512, 512), "f")]
    result = {"output": ["u"], "meta": {"num_inference_steps": 3}}
    assert req.num_inference_steps == 3
    assert checks.default_departures(SPEC, sent, req, result, image) == []
    without_alias = {k: v for k, v in sent.items() if k != "steps"}
    assert checks.default_departures(SPEC, without_alias, req, result, image) == [
        ("num_inference_steps", "meta.num_inference_steps is 3, but the spec's default is 20")]


def png(width: int, height: int, colour: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_decode_image_fingerprints_pixels_not_bytes() -> None:
    size, red, pixels = decode_image(png(8, 4))
    assert pixels[:4] == bytes((255, 0, 0, 255))
    assert size == (8, 4)
    assert decode_image(png(8, 4, "blue"))[1] != red
    buffer = io.BytesIO()
    Image.new("RGB", (8, 4), "red").save(buffer, format="PNG", compress_level=0)
    assert decode_image(buffer.getvalue())[1] == red
    with pytest.raises(ValueError, match="not a decodable image"):
        decode_image(b"not a png")


def test_load_outputs_decodes_base64_and_refuses_urls_for_base64() -> None:
    from t2i_contract.contract_tests.images import load_outputs

    encoded = base64.b64encode(png(16, 16)).decode()
    loaded = load_outputs(None, [encoded, "data:image/png;base64," + encoded, "http://h/x.png", "%%%"],  # type: ignore[arg-type]
                          as_base64=True)
    assert [image.size for image in loaded[:2]] == [(16, 16), (16, 16)]
    assert "is a URL although base64 was true" in loaded[2].problem
    assert "not valid base64" in loaded[3].problem
    assert "not an http(s) URL" in load_outputs(None, ["abc"], as_base64=False)[0].problem  # type: ignore[arg-type]
