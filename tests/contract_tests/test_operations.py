"""img2img, inpaint and model_reload in the suite: the new verdicts on good and bad input, the image
server, and the run's choices (an operation the server lacks, base64 when URLs are refused)."""
from __future__ import annotations

import io
import json
from typing import Any, Callable

import pytest
import requests
from flask import Flask
from PIL import Image

from t2i_contract.contract_tests import checks
from t2i_contract.contract_tests.client import NO_JSON, Exchange
from t2i_contract.contract_tests.generation import input_fields, invalid_edge_bodies, is_valid, minimal_body
from t2i_contract.contract_tests.images import LoadedImage, decode_image
from t2i_contract.contract_tests.inputs import INIT_SIZE, MASK_BOX, InputImageServer, closed_port_url
from t2i_contract.contract_tests.operations import unimplemented
from t2i_contract.contract_tests.settings import Settings
from t2i_contract.contract_tests.suite import run_suite
from t2i_contract.spec import load_spec
from tests.contract_tests.broken import BREAKAGES, Breakage, BrokenServer
from tests.support import ServerThread

SPEC = load_spec()


def exchange(status: int, body: Any = NO_JSON, operation: str = "img2img") -> Exchange:
    content = b"not json" if body is NO_JSON else json.dumps(body).encode()
    return Exchange("POST", f"http://h/api/v6/images/{operation}", operation, status=status, json=body,
                    content=content, text=content.decode(), content_type="application/json")


def loaded(png: bytes, index: int = 0) -> LoadedImage:
    size, fingerprint, pixels = decode_image(png)
    return LoadedImage(index, "x", size, fingerprint, rgba=pixels)


@pytest.fixture(scope="module")
def images() -> Any:
    with InputImageServer() as server:
        yield server


# -- the image server ---------------------------------------------------------------
def test_image_server_serves_init_and_mask_of_one_size_and_refuses_the_rest(images: InputImageServer) -> None:
    init = requests.get(images.url + "/init.png", timeout=10)
    mask = requests.get(images.url + "/mask.png", timeout=10)
    assert decode_image(init.content)[0] == decode_image(mask.content)[0] == INIT_SIZE
    assert requests.get(images.url + "/missing.png", timeout=10).status_code == 404
    with pytest.raises(ValueError):
        decode_image(requests.get(images.url + "/not-an-image.png", timeout=10).content)
    assert images.requests[:2] == ["init.png", "mask.png"]


def test_base64_inputs_carry_the_same_image_as_the_urls(images: InputImageServer) -> None:
    value = images.images.as_form("base64").value("init.png")
    assert value.startswith("data:image/png;base64,")
    body = minimal_body(SPEC, operation="img2img", inputs={"init_image": value})
    assert is_valid(body, SPEC, "img2img")


def test_nothing_listens_at_a_closed_port_url() -> None:
    with pytest.raises(requests.ConnectionError):
        requests.get(closed_port_url(), timeout=10)


# -- generation ---------------------------------------------------------------------
def test_required_input_fields_come_from_the_spec() -> None:
    assert input_fields(SPEC, "img2img") == ["init_image"]
    assert sorted(input_fields(SPEC, "inpaint")) == ["init_image", "mask_image"]
    assert input_fields(SPEC, "text2img") == []


def test_every_inpaint_rule_is_broken_once_with_the_inputs_kept() -> None:
    inputs = {"init_image": "http://127.0.0.1:9/init.png", "mask_image": "http://127.0.0.1:9/mask.png"}
    bodies = invalid_edge_bodies(SPEC, operation="inpaint", inputs=inputs)
    assert not any(is_valid(body, SPEC, "inpaint") for body in bodies)
    assert any("mask_image" not in body for body in bodies)  # the required input missing
    assert any(body.get("strength") == 2 for body in bodies)  # strength above its maximum
    for body in bodies:  # every URL the body carries is the suite's own
        assert all(body[name] in inputs.values() for name in inputs if isinstance(body.get(name), str)
                   and "://" in body[name])


# -- the verdicts -------------------------------------------------------------------
def _png(size: tuple[int, int], colour: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_img2img_size_holds_the_output_to_the_init_image() -> None:
    assert checks.img2img_size(INIT_SIZE, [loaded(_png(INIT_SIZE))]).problems == []
    problems = checks.img2img_size(INIT_SIZE, [loaded(_png((512, 512)))]).problems
    assert problems == ["output[0] is 512x512, but init_image is 256x192"]
    assert checks.img2img_size(INIT_SIZE, [LoadedImage(0, "x", problem="output[0] answered HTTP 404")]).problems


def test_inpaint_preserves_finds_one_changed_kept_pixel(images: InputImageServer) -> None:
    init, mask = images.images.rgba("init.png"), images.images.mask()
    original = requests.get(images.url + "/init.png", timeout=10).content
    assert checks.inpaint_preserves(init, mask, [loaded(original)]).problems == []
    with Image.open(io.BytesIO(original)) as image:
        painted = image.convert("RGB")
    painted.paste((0, 0, 0), MASK_BOX)  # the masked (white) region may change at will
    buffer = io.BytesIO()
    painted.save(buffer, format="PNG")
    assert checks.inpaint_preserves(init, mask, [loaded(buffer.getvalue())]).problems == []
    painted.putpixel((3, 5), (1, 2, 3))  # a kept (black) pixel may not
    buffer = io.BytesIO()
    painted.save(buffer, format="PNG")
    problems = checks.inpaint_preserves(init, mask, [loaded(buffer.getvalue(), index=1)]).problems
    assert len(problems) == 1 and problems[0].startswith("output[1] changed 1 of the")
    assert "x=3, y=5" in problems[0]


@pytest.mark.parametrize(("status", "body", "ok"), [
    (400, {"status": "error", "message": "init_image is unreachable",
           "errors": [{"field": "init_image", "rule": "unreachable", "message": "m"}]}, True),
    (422, {"status": "error", "message": "init_image is not a PNG or JPEG"}, True),
    (400, {"status": "error", "message": "bad request"}, False),
    (500, {"status": "error", "message": "Internal server error"}, False),
    (200, {"status": "success", "id": 1, "output": ["http://h/a.png"]}, False),
    (200, {"status": "processing", "id": 1, "output": []}, False),
], ids=["400-naming-field", "4xx-message-names-field", "400-not-naming", "500", "success", "processing"])
def test_input_refused_wants_a_4xx_naming_the_field(status: int, body: Any, ok: bool) -> None:
    assert (checks.input_refused(exchange(status, body), "init_image") == []) is ok


@pytest.mark.parametrize(("status", "body", "ok"), [
    (200, {"status": "success", "message": "loaded"}, True),
    (200, {"status": "processing", "message": "loading", "eta": 3}, True),
    (200, {"status": "error", "message": "cannot load"}, False),
    (200, {"status": "success"}, False),
    (404, {"status": "error", "message": "Model not found: m"}, False),
], ids=["success", "processing", "error", "no-message", "404"])
def test_model_reload_wants_success_or_processing_with_a_message(status: int, body: Any, ok: bool) -> None:
    assert (checks.model_reload(exchange(status, body, "modelReload")) == []) is ok


@pytest.mark.parametrize(("status", "body", "missing"), [
    (404, {"status": "error", "message": "Not found: this server does not implement img2img"}, True),
    (404, {"status": "error", "message": "Not found: no route POST /api/v6/images/img2img",
           "errors": [{"field": "", "rule": "route"}]}, True),  # as the protocol layer answers a route it lacks
    (404, NO_JSON, True),
    (405, NO_JSON, True),
    (404, {"status": "error", "message": "Model not found: m",
           "errors": [{"field": "model_id", "rule": "not_found"}]}, False),
    (200, {"status": "success", "id": 1, "output": []}, False),
], ids=["names-operation", "no-route", "html-404", "html-405", "unknown-model", "success"])
def test_an_unimplemented_operation_is_told_from_an_unknown_model(status: int, body: Any, missing: bool) -> None:
    assert unimplemented(exchange(status, body), "img2img", SPEC) is missing  # the spec's x-t2i-wire signal


# -- the run ------------------------------------------------------------------------
def test_a_server_without_img2img_passes_with_skip_implemented_and_says_so(
        mock_app: Flask, fast_settings: Callable[..., Settings]) -> None:
    breakage = next(b for b in BREAKAGES if b.name == "img2img-not-implemented")
    with ServerThread(BrokenServer(mock_app, breakage)) as server:
        report = run_suite(fast_settings(server.url, max_examples=1, skip=frozenset({"implemented"})))
    assert report.ok, report.render_text()
    assert "img2img: not implemented by the server, its checks were not run" in report.notes
    assert report.results["inpaint_preserves"].exercised  # inpaint still ran


def _refuse_url_inputs(path: str, sent: Any, status: int, answer: Any) -> tuple[int, Any]:
    value = sent.get("init_image") if isinstance(sent, dict) else None
    if path.endswith(("/img2img", "/inpaint")) and isinstance(value, str) and value.startswith("http"):
        message = f"init_image {value!r} is refused: loopback addresses are not allowed (--private-urls allow)"
        return 400, {"status": "error", "message": message,
                     "errors": [{"field": "init_image", "rule": "url_policy", "message": message, "value": value}]}
    return status, answer


def test_inputs_fall_back_to_base64_when_the_server_refuses_the_suites_urls(
        mock_app: Flask, fast_settings: Callable[..., Settings]) -> None:
    strict = Breakage("strict-url-policy", frozenset(), on_response=_refuse_url_inputs)
    with ServerThread(BrokenServer(mock_app, strict)) as server:
        report = run_suite(fast_settings(server.url, max_examples=1))
        insisting = run_suite(fast_settings(server.url, max_examples=1, input_images="url"))
    assert report.ok, report.render_text()
    assert any("input images are sent as base64" in note for note in report.notes)
    assert report.results["img2img_size"].exercised and report.results["inpaint_preserves"].exercised
    assert "valid_accepted" in insisting.failed  # --input-images url: the refusal is the server's verdict


def test_a_failure_on_a_url_input_says_where_the_images_came_from(
        mock_app: Flask, fast_settings: Callable[..., Settings]) -> None:
    breakage = next(b for b in BREAKAGES if b.name == "img2img-sized-by-width-height")
    with ServerThread(BrokenServer(mock_app, breakage)) as server:
        by_url = run_suite(fast_settings(server.url, max_examples=1, skip=frozenset({"inpaint_preserves"})))
        by_base64 = run_suite(fast_settings(server.url, max_examples=1, input_images="base64"))
    failure = by_url.results["img2img_size"].failures[0]
    assert "/init.png" in failure.reproducer and "gone after the run" in failure.context
    failure = by_base64.results["img2img_size"].failures[0]
    assert "data:image/png;base64," in failure.reproducer and "gone after the run" not in failure.context
