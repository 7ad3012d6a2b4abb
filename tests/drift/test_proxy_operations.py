"""``t2i proxy`` on img2img, inpaint and model_reload: requests judged by the spec's parser of each
operation, answers by its response schema, image downloads by the size the answer's meta promises."""
from __future__ import annotations

import json
from typing import Any, Callable

import pytest
import requests

from t2i_contract.contract_tests.images import decode_image
from t2i_contract.contract_tests.inputs import INIT_SIZE, InputImages
from t2i_contract.drift.proxy import VIOLATIONS_HEADER, ProxySettings, create_app
from tests.drift.test_proxy import _report, proxy_url  # noqa: F401  (the proxy before the real mock, a fixture)
from tests.support import ServerThread

IMAGES = "/api/v6/images"
# Inputs in base64, so the mock behind the proxy fetches nothing.
INPUTS = InputImages("http://127.0.0.1:9").as_form("base64")
COMMON = {"key": "k", "model_id": "f222-diffusion", "prompt": "a lighthouse", "num_inference_steps": 2}
BODIES = {
    "img2img": COMMON | {"init_image": INPUTS.value("init.png"), "strength": 0.5},
    "inpaint": COMMON | {"init_image": INPUTS.value("init.png"), "mask_image": INPUTS.value("mask.png")},
}


@pytest.mark.parametrize("operation", sorted(BODIES))
def test_a_conforming_generation_and_its_image_pass_with_zero_violations(proxy_url: str, operation: str) -> None:
    response = requests.post(f"{proxy_url}{IMAGES}/{operation}", json=BODIES[operation],
                             headers={"Prefer": "status=success"}, timeout=30)
    assert response.status_code == 200 and response.json()["status"] == "success", response.text
    assert response.headers[VIOLATIONS_HEADER] == "0", _report(response)
    image = requests.get(response.json()["output"][0], timeout=30)
    assert image.url.startswith(proxy_url)
    assert image.headers[VIOLATIONS_HEADER] == "0", _report(image)
    assert decode_image(image.content)[0] == INIT_SIZE


@pytest.mark.parametrize(("operation", "change", "says"), [
    ("img2img", {"init_image": None}, "init_image is required"),
    ("inpaint", {"mask_image": "not a url or base64!"}, "mask_image"),
    ("img2img", {"strength": 1.5}, "strength must be at most 1"),
], ids=["img2img-without-init-image", "inpaint-mask-not-an-image-value", "strength-above-1"])
def test_an_invalid_generation_is_a_request_violation(proxy_url: str, operation: str, change: dict[str, Any],
                                                      says: str) -> None:
    body = {k: v for k, v in (BODIES[operation] | change).items() if v is not None}
    response = requests.post(f"{proxy_url}{IMAGES}/{operation}", json=body, timeout=30)
    assert response.status_code == 400  # the mock's own answer, passed through
    report = _report(response)
    assert response.headers[VIOLATIONS_HEADER] == str(len(report)) == "1", report
    assert report[0].startswith("request: ") and says in report[0]


def test_the_vendors_inpaint_example_as_sent_is_no_request_violation(proxy_url: str, repo_root: Any) -> None:
    body = json.loads((repo_root / "examples" / "upstream-inpaint.json").read_text())
    body |= {"init_image": INPUTS.value("init.png"), "mask_image": INPUTS.value("mask.png"),
             "model_id": "f222-diffusion"}  # strings, nulls and steps kept as published
    response = requests.post(f"{proxy_url}{IMAGES}/inpaint", json=body, headers={"Prefer": "status=success"},
                             timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers[VIOLATIONS_HEADER] == "0", _report(response)


def test_model_reload_requests_and_answers_are_checked(proxy_url: str) -> None:
    good = requests.post(f"{proxy_url}{IMAGES}/model_reload", json={"key": "k", "model_id": "f222-diffusion"},
                         timeout=30)
    assert good.status_code == 200 and good.json()["status"] in ("success", "processing")
    assert good.headers[VIOLATIONS_HEADER] == "0", _report(good)
    bad = requests.post(f"{proxy_url}{IMAGES}/model_reload", json={"key": "k"}, timeout=30)
    assert bad.headers[VIOLATIONS_HEADER] == "1" and _report(bad) == ["request: model_id is required"]


def test_a_model_reload_answer_outside_its_schema_is_a_response_violation(
        drifting_server: Callable[..., str]) -> None:
    def loaded(path: str, code: int, body: Any) -> tuple[int, Any]:
        if path.endswith("/model_reload") and isinstance(body, dict):
            return code, {"status": "loaded"}
        return code, body

    upstream = drifting_server(response_change=loaded)
    with ServerThread(create_app(ProxySettings(upstream=upstream))) as proxy:
        response = requests.post(f"{proxy.url}{IMAGES}/model_reload", json={"key": "k", "model_id": "m"}, timeout=30)
    report = _report(response)
    assert response.headers[VIOLATIONS_HEADER] == str(len(report)) and len(report) >= 1
    assert all(line.startswith("response: ") for line in report)
    assert any("'loaded' is not one of" in line for line in report) and any("message" in line for line in report)
