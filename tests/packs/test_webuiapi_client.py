"""The ``webuiapi`` client (what most AUTOMATIC1111 tools call) against ``--contract a1111``, on both servers.

AUTOMATIC1111's API is synchronous: ``txt2img`` and ``img2img`` answer with base64
``images``, the request as understood in ``parameters`` and the run described in
``info``, a JSON string. The client decodes them into PIL images and a dict.
"""
from __future__ import annotations

import pytest
import requests
import webuiapi

from tests.packs.conftest import PackServer
from tests.packs.images import SIZE, outside_hole_kept, picture, white_mask

SERVERS = ["mock", "backend"]


@pytest.fixture(params=SERVERS)
def api(request: pytest.FixtureRequest, pack_server: PackServer) -> webuiapi.WebUIApi:
    url = pack_server(request.param, ("a1111",))
    host, port = url.removeprefix("http://").split(":")
    return webuiapi.WebUIApi(host=host, port=int(port), steps=4)


def test_txt2img_gives_batch_size_images_of_the_size_and_the_seed_in_info(api: webuiapi.WebUIApi) -> None:
    result = api.txt2img(prompt="a red barn", width=128, height=96, batch_size=2, seed=1234, cfg_scale=6)
    assert [image.size for image in result.images] == [(128, 96)] * 2
    assert result.info["seed"] == 1234 and result.parameters["cfg_scale"] == 6


def test_the_same_seed_gives_the_same_pixels(api: webuiapi.WebUIApi) -> None:
    first, again, other = (api.txt2img(prompt="a barn", width=64, height=64, seed=seed).image
                           for seed in (7, 7, 8))
    assert first.tobytes() == again.tobytes() and first.tobytes() != other.tobytes()


def test_seed_minus_one_asks_the_server_to_pick_one(api: webuiapi.WebUIApi) -> None:
    result = api.txt2img(prompt="a barn", width=64, height=64, seed=-1)
    assert isinstance(result.info["seed"], int) and result.info["seed"] >= 0


def test_img2img_answers_with_the_init_images_size(api: webuiapi.WebUIApi) -> None:
    result = api.img2img(images=[picture()], prompt="a barn in snow", denoising_strength=0.6, seed=3)
    assert [image.size for image in result.images] == [SIZE]


def test_img2img_with_a_mask_keeps_the_unmasked_pixels(api: webuiapi.WebUIApi) -> None:
    source = picture()
    result = api.img2img(images=[source], mask_image=white_mask(), prompt="a window", denoising_strength=0.9,
                         seed=3)
    assert outside_hole_kept(source, result.image)
    assert result.image.convert("RGB").getpixel((64, 64)) != source.getpixel((64, 64)), "the hole was not repainted"


def test_the_models_list_names_what_the_server_holds(api: webuiapi.WebUIApi) -> None:
    names = api.util_get_model_names()
    assert names and all(isinstance(name, str) and name for name in names)


def test_progress_answers_in_its_documented_shape(api: webuiapi.WebUIApi) -> None:
    progress = api.get_progress()
    assert {"progress", "eta_relative", "state", "current_image", "textinfo"} <= set(progress)


def test_a_bad_field_is_a_422_naming_it(pack_server: PackServer) -> None:
    url = pack_server("mock", ("a1111",))
    answer = requests.post(url + "/sdapi/v1/txt2img", json={"prompt": "x", "width": "wide"}, timeout=10)
    assert answer.status_code == 422
    [detail] = answer.json()["detail"]
    assert detail["loc"] == ["body", "width"] and "'wide'" in detail["msg"]
