"""The mock's img2img, inpaint and model_reload over real HTTP: the init image is visibly in the answer,
inpaint keeps every unmasked pixel exactly, model_reload answers as documented, ``--models`` limits ids."""
from __future__ import annotations

import io
from functools import partial
from typing import Any, Callable

import pytest
from PIL import Image, ImageChops, ImageStat

from tests.input_images import half_mask, png_base64
from tests.input_images import photo as any_photo
from tests.mock_server.conftest import MockClient, conforms

photo = partial(any_photo, (96, 80))


def result(client: MockClient, operation: str, body: dict[str, Any]) -> list[Image.Image]:
    response = client.post(operation, body)
    assert response.status_code == 200, response.text
    assert conforms(operation, response) == []
    return [Image.open(io.BytesIO(client.get(link).content)).convert("RGB") for link in response.json()["output"]]


def img2img_body(init: Image.Image, **fields: Any) -> dict[str, Any]:
    return {"key": "k", "model_id": "m", "prompt": "a dog", "seed": 3, "init_image": png_base64(init), **fields}


def test_img2img_has_the_init_image_size_and_depends_on_it(mock: MockClient) -> None:
    first = result(mock, "img2img", img2img_body(photo()))[0]
    other = result(mock, "img2img", img2img_body(photo(colour=(200, 30, 30))))[0]
    assert first.size == (96, 80)
    assert ImageChops.difference(first, other).getbbox() is not None


def test_img2img_strength_zero_keeps_more_of_the_init_image_than_one(mock: MockClient) -> None:
    init = photo()

    def distance(image: Image.Image) -> float:
        return ImageStat.Stat(ImageChops.difference(image, init).convert("L")).mean[0]
    weak = result(mock, "img2img", img2img_body(init, strength=0.1))[0]
    strong = result(mock, "img2img", img2img_body(init, strength=1))[0]
    assert distance(weak) < distance(strong)


def test_img2img_answers_are_deterministic(mock: MockClient) -> None:
    body = img2img_body(photo())
    assert result(mock, "img2img", body)[0].tobytes() == result(mock, "img2img", body)[0].tobytes()


def test_inpaint_keeps_unmasked_pixels_exactly_and_paints_the_masked_ones(mock: MockClient) -> None:
    init = photo()
    mask = half_mask(init.size, right=False)
    out = result(mock, "inpaint", {**img2img_body(init), "mask_image": png_base64(mask), "samples": 2})
    for image in out:
        assert image.size == init.size
        assert image.crop((48, 0, 96, 80)).tobytes() == init.crop((48, 0, 96, 80)).tobytes()
        assert ImageChops.difference(image.crop((0, 0, 48, 80)), init.crop((0, 0, 48, 80))).getbbox() is not None


def test_a_mask_of_another_size_is_a_400_naming_mask_image(mock: MockClient) -> None:
    body = {**img2img_body(photo()), "mask_image": png_base64(Image.new("L", (64, 64)))}
    response = mock.post("inpaint", body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "mask_image"


@pytest.mark.parametrize("size", [(32, 80), (2100, 64)], ids=["too-small", "too-big"])
def test_an_init_image_outside_64_to_2048_is_a_400_saying_so(mock: MockClient, size: tuple[int, int]) -> None:
    response = mock.post("img2img", img2img_body(Image.new("RGB", size)))
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["field"] == "init_image" and "64 to 2048" in error["message"]


def test_answers_never_show_the_stored_input_images(mock: MockClient) -> None:
    response = mock.post("img2img", img2img_body(photo()), headers={"Prefer": "status=processing"})
    assert "_inputs" not in response.json()["meta"]
    assert response.json()["meta"]["width"] == 96 and response.json()["meta"]["height"] == 80
    fetched = mock.fetch(response.json()["id"]).json()
    assert "_inputs" not in fetched["meta"]


def test_model_reload_answers_success_or_processing_when_asked(mock: MockClient) -> None:
    body = {"key": "k", "model_id": "m"}
    loading = mock.post("model_reload", body, headers={"Prefer": "status=processing; eta=4"})
    assert (loading.status_code, loading.json()["status"], loading.json()["eta"]) == (200, "processing", 4)
    assert conforms("modelReload", loading) == []
    ready = mock.post("model_reload", body)
    assert (ready.status_code, ready.json()["status"]) == (200, "success")
    assert conforms("modelReload", ready) == []


def test_models_list_makes_other_ids_a_404_on_every_operation(make_mock: Callable[..., MockClient]) -> None:
    client = make_mock(models=("m",))
    assert client.post("model_reload", {"key": "k", "model_id": "m"}).status_code == 200
    for operation, body in [("text2img", {"key": "k", "model_id": "x", "prompt": "p"}),
                            ("img2img", img2img_body(photo(), model_id="x")),
                            ("model_reload", {"key": "k", "model_id": "x"})]:
        response = client.post(operation, body)
        assert response.status_code == 404, operation
        assert response.json()["message"] == "Model not found: x"
        assert response.json()["errors"][0]["field"] == "model_id"
