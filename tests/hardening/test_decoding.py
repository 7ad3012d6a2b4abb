"""Issue 18, items 1 and 12: input images are decoded within bounds, and refused in clean words.

Reproduced before the fixes: a progressive JPEG with an honest 2048x2048 header whose small
scan is repeated passed every check and was decoded scan by scan (53 s of CPU at 4096x4096
with 30,000 scans, on both servers, for ``init_image``, ``mask_image`` and
``ip_adapter_image`` alike); here 300 scans, about a second of decoding, which the old code
accepted. The limits are the spec's (``x-t2i-image``: at most 64 scans), so the bomb is a
400 naming the field and the bound, found by walking the JPEG's markers before any pixel is
decoded. Health is asked while the server is fetching the bomb (the image server asks it
before it answers), so an answer to it is proof that the bomb did not hold the server.
A truncated PNG answered ``cannot identify image file <_io.BytesIO object at 0x7fa2...>``.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Iterable

import pytest
import requests

from t2i_contract.spec import load_spec
from tests.support import ServerThread

from .answers import PNG_BASE64, error_fields, in_error_shape
from .conftest import KINDS, Launch
from .hostile_images import TRUNCATED_PNG, b64, scan_bomb

MAX_SCANS = load_spec().input_image_limits("img2img", "init_image").max_scans
BOMB = scan_bomb(2048, 300)
CASES = [("img2img", "init_image"), ("inpaint", "init_image"), ("inpaint", "mask_image"),
         ("text2img", "ip_adapter_image")]
TIMEOUT = 120.0  # a guard against a hung server, never a claim about speed
LEAKS = ("0x", "<_io", "object at", "/work/", "site-packages", "Traceback", "BytesIO")


def body_with(target: Any, operation: str, field: str, value: str) -> dict[str, Any]:
    """A valid call of ``operation`` on ``target`` with ``value`` in input-image ``field``."""
    if operation == "text2img":
        return target.body(ip_adapter_id="ip-adapter_sd15", **{field: value})
    body = {"key": target.body()["key"], "model_id": "tiny-sd", "prompt": "a lighthouse", "num_inference_steps": 1,
            "init_image": PNG_BASE64}
    if operation == "inpaint":
        body["mask_image"] = PNG_BASE64
    body[field] = value
    return body


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("operation", "field"), CASES, ids=[f"{o}-{f}" for o, f in CASES])
def test_a_progressive_jpeg_scan_bomb_is_refused_naming_the_field_and_the_bound(launch: Launch, kind: str,
                                                                              operation: str, field: str) -> None:
    target = launch(kind)
    response = target.request("POST", target.path(operation), json=body_with(target, operation, field, b64(BOMB)))
    in_error_shape(operation, response)
    assert error_fields(response) == [field], response.text
    problem = response.json()["errors"][0]
    assert problem["rule"] == "scans" and f"{MAX_SCANS} scans" in problem["message"], problem


class BombServer:
    """Serves the bomb; before answering, asks ``health`` of the server that is fetching it."""

    def __init__(self, health: Callable[[], int]) -> None:
        self.health = health
        self.answered: list[int] = []
        self.lock = threading.Lock()
        self.server = ServerThread(self._wsgi)
        self.url = self.server.url + "/bomb.jpg"

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        status = self.health()  # the bomb is in flight: the server is waiting for these bytes
        with self.lock:
            self.answered.append(status)
        start_response("200 OK", [("Content-Type", "image/jpeg"), ("Content-Length", str(len(BOMB)))])
        return [BOMB]


@pytest.mark.parametrize("kind", KINDS)
def test_health_answers_while_a_bomb_is_in_flight_and_the_bomb_is_refused(launch: Launch, kind: str) -> None:
    target = launch(kind, url_allow=("127.0.0.1",))
    health_path = "/__mock/health" if kind == "mock" else "/"  # the backend has no health route: its page

    def health() -> int:
        return requests.get(target.url + health_path, timeout=TIMEOUT).status_code

    bomb = BombServer(health)
    with bomb.server:
        response = target.request("POST", target.path("img2img"),
                                  json=body_with(target, "img2img", "init_image", bomb.url))
    assert bomb.answered == [200], "health did not answer while the server fetched the bomb"
    in_error_shape("img2img", response)
    assert response.json()["errors"][0]["rule"] == "scans", response.text


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("operation", "field"), CASES, ids=[f"{o}-{f}" for o, f in CASES])
def test_a_truncated_png_is_refused_without_a_repr_or_an_address(launch: Launch, kind: str, operation: str,
                                                                field: str) -> None:
    target = launch(kind)
    response = target.request("POST", target.path(operation),
                              json=body_with(target, operation, field, b64(TRUNCATED_PNG)))
    in_error_shape(operation, response)
    assert error_fields(response) == [field], response.text
    assert not [leak for leak in LEAKS if leak in response.text], response.text
    assert "broken PNG" in response.json()["message"]
