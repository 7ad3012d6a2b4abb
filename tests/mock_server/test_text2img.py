"""text2img over real HTTP: success answers, images, meta, determinism, fetch of a finished job."""
from __future__ import annotations

import base64
import io
import json
import re
from typing import Any

import pytest
from PIL import Image

from tests.mock_server.conftest import MockClient, conforms


def _png(data: bytes) -> Image.Image:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_upstream_example_body_gets_a_conforming_success(mock: MockClient, upstream_body: dict[str, Any]) -> None:
    response = mock.text2img(upstream_body)
    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == "success"
    assert conforms("text2img", response) == []
    assert isinstance(answer["id"], int)
    assert len(answer["output"]) == 1
    for name in ("generationTime", "proxy_links", "nsfw_content_detected", "webhook_status"):
        assert name in answer
    assert answer["meta"]["lora_model"] == ["teddy-jacket-v1-0", "a-simple-china-dress-v6-0"]
    assert answer["meta"]["lora_strength"] == [0.45, 0.55]
    assert answer["meta"]["num_inference_steps"] == 20  # 31 is capped
    assert "key" not in answer["meta"]


@pytest.mark.parametrize("samples", [1, 2, 4])
def test_output_has_one_png_url_per_sample_on_the_mocks_own_host(mock: MockClient, body: dict[str, Any],
                                                                  samples: int) -> None:
    answer = mock.text2img(body | {"samples": samples, "width": 264, "height": 256}).json()
    assert len(answer["output"]) == samples
    assert len(answer["proxy_links"]) == samples
    for url in answer["output"] + answer["proxy_links"]:
        assert url.startswith(mock.url + "/")
        response = mock.get(url)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "image/png"
        assert _png(response.content).size == (264, 256)


def test_upscale_doubles_the_image_size(mock: MockClient, body: dict[str, Any]) -> None:
    answer = mock.text2img(body | {"width": 256, "height": 320, "upscale": "yes"}).json()
    assert _png(mock.get(answer["output"][0]).content).size == (512, 640)


def test_base64_output_holds_pngs_of_the_requested_size(mock: MockClient, body: dict[str, Any]) -> None:
    response = mock.text2img(body | {"base64": True, "samples": 2})
    answer = response.json()
    assert conforms("text2img", response) == []
    assert len(answer["output"]) == 2
    images = [_png(base64.b64decode(item)) for item in answer["output"]]
    assert [image.size for image in images] == [(256, 256), (256, 256)]
    assert images[0].tobytes() != images[1].tobytes()


def test_null_seed_is_replaced_by_the_seed_used_in_meta(mock: MockClient, body: dict[str, Any]) -> None:
    first = mock.text2img(body | {"seed": None}).json()
    second = mock.text2img(body | {"seed": None}).json()
    assert isinstance(first["meta"]["seed"], int)
    assert first["meta"]["seed"] != second["meta"]["seed"]


def test_images_are_deterministic_in_seed_and_prompt(mock: MockClient, body: dict[str, Any]) -> None:
    def picture(**changes: Any) -> bytes:
        answer = mock.text2img(body | changes).json()
        return mock.get(answer["output"][0]).content

    same = picture(), picture()
    assert same[0] == same[1]
    assert picture(seed=8) != same[0]
    assert picture(prompt="a red bicycle") != same[0]
    assert picture(guidance_scale=3) != same[0]
    # the same request answered by another mock draws the same bytes
    assert _png(same[0]).getpixel((10, 10)) == _png(picture()).getpixel((10, 10))


def test_fetch_of_a_finished_job_returns_the_same_success(mock: MockClient, body: dict[str, Any]) -> None:
    first = mock.text2img(body).json()
    for response in (mock.fetch(first["id"]), mock.fetch_body(first["id"])):
        assert response.status_code == 200
        again = response.json()
        assert again["status"] == "success"
        assert (again["id"], again["output"], again["meta"]) == (first["id"], first["output"], first["meta"])
    assert conforms("fetchById", mock.fetch(first["id"])) == []
    assert conforms("fetch", mock.fetch_body(first["id"])) == []


def test_ids_are_distinct_integers(mock: MockClient, body: dict[str, Any]) -> None:
    ids = [mock.text2img(body).json()["id"] for _ in range(5)]
    assert len(set(ids)) == 5
    assert all(isinstance(i, int) and i >= 0 for i in ids)


@pytest.mark.parametrize("prefer", [None, "status=processing, eta=5"], ids=["success", "processing"])
def test_fast_path_and_flask_route_answer_alike(make_mock: Any, body: dict[str, Any], prefer: str | None) -> None:
    fast, flask_only = make_mock(), make_mock(fast_path=False)
    headers = {"Prefer": prefer} if prefer else None
    answers = []
    for mock in (fast, flask_only):
        response = mock.text2img(body | {"samples": 2, "track_id": "t"}, headers=headers)
        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert response.headers["Content-Type"] == "application/json"
        answer = response.json()
        job = f"/{answer.pop('id')}"
        answer = json.loads(re.sub(r"[0-9a-f]{32}", "TOKEN",  # image names: 128 random bits each
                                   json.dumps(answer).replace(mock.url, "URL").replace(job, "/ID")))
        answer.pop("eta", None)
        answers.append(answer)
        entry = mock.get("/__mock/requests").json()["requests"][-1]
        assert (entry["status"], entry["job_id"], entry["raw"]) == (  # the journal shows no key
            200, response.json()["id"], json.dumps(body | {"samples": 2, "track_id": "t", "key": "[redacted]"}))
    assert answers[0] == answers[1]
