"""The official ``openai`` Python client against ``--contract openai-images``, on the mock and the backend.

Each call goes over real HTTP from the client OpenAI publishes, as an application
would make it: only the base URL changes. What comes back must be what the
official API gives: real PNGs of the requested size, ``n`` of them, as URLs that
download or as ``b64_json``; edits that repaint where the mask (or the image's own
transparency) says and keep the rest; errors the client raises as its own types.
"""
from __future__ import annotations

import base64
import io

import openai
import pytest
import requests
from PIL import Image

from tests.packs.conftest import PackServer
from tests.packs.images import SIZE, alpha_mask, decode, outside_hole_kept, picture, png, with_hole

KEY = "sk-pack-test"
SERVERS = ["mock", "backend"]
MODEL = {"mock": "dall-e-2", "backend": "tiny-sd"}
INPAINT_MODEL = {"mock": "dall-e-2", "backend": "tiny-sd-inpaint"}


def _client(url: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=120)


@pytest.fixture(params=SERVERS)
def served(request: pytest.FixtureRequest, pack_server: PackServer) -> tuple[str, openai.OpenAI]:
    url = pack_server(request.param, ("openai-images",), keys=(KEY,))
    return request.param, _client(url)


def test_generate_gives_n_pngs_of_the_size_as_base64(served: tuple[str, openai.OpenAI]) -> None:
    kind, client = served
    result = client.images.generate(prompt="a lighthouse at dusk", model=MODEL[kind], n=2, size="256x256",
                                    response_format="b64_json")
    assert len(result.data) == 2 and isinstance(result.created, int)
    images = [decode(item.b64_json) for item in result.data]
    assert [(image.format, image.size) for image in images] == [("PNG", (256, 256))] * 2


def test_generate_gives_urls_that_download_the_images(served: tuple[str, openai.OpenAI]) -> None:
    kind, client = served
    result = client.images.generate(prompt="a lighthouse", model=MODEL[kind], n=1, size="256x256",
                                    response_format="url")
    [item] = result.data
    assert item.b64_json is None
    download = requests.get(item.url, timeout=30)
    assert download.status_code == 200
    assert Image.open(io.BytesIO(download.content)).size == (256, 256)


def test_edit_with_a_mask_repaints_only_where_the_mask_is_transparent(served: tuple[str, openai.OpenAI]) -> None:
    kind, client = served
    source = picture()
    result = client.images.edit(image=("picture.png", png(source), "image/png"),
                                mask=("mask.png", png(alpha_mask()), "image/png"),
                                prompt="a blue square", model=INPAINT_MODEL[kind], n=1, response_format="b64_json")
    edited = decode(result.data[0].b64_json)
    assert edited.size == SIZE
    assert outside_hole_kept(source, edited)
    assert edited.convert("RGB").getpixel((64, 64)) != source.getpixel((64, 64)), "the hole was not repainted"


def test_edit_without_a_mask_repaints_the_images_transparent_part(served: tuple[str, openai.OpenAI]) -> None:
    kind, client = served
    source = picture()
    result = client.images.edit(image=("holed.png", png(with_hole(source)), "image/png"), prompt="a window",
                                model=INPAINT_MODEL[kind], n=1, response_format="b64_json")
    assert outside_hole_kept(source, decode(result.data[0].b64_json))


def test_variation_gives_images_of_the_inputs_size(served: tuple[str, openai.OpenAI]) -> None:
    kind, client = served
    # on the backend one image: diffusers' img2img pipelines warn (FutureWarning) when asked for two from one image
    count = 2 if kind == "mock" else 1
    with pytest.warns(DeprecationWarning):  # the client marks variations deprecated; the API still serves them
        result = client.images.create_variation(image=("picture.png", png(picture()), "image/png"),
                                                model=MODEL[kind], n=count, response_format="b64_json")
    assert [decode(item.b64_json).size for item in result.data] == [SIZE] * count


def test_a_wrong_key_is_the_clients_authentication_error(served: tuple[str, openai.OpenAI]) -> None:
    kind, client = served
    stranger = _client(str(client.base_url).removesuffix("/v1/").removesuffix("/v1"), key="sk-someone-else")
    with pytest.raises(openai.AuthenticationError) as caught:
        stranger.images.generate(prompt="x", model=MODEL[kind])
    assert caught.value.status_code == 401


@pytest.mark.parametrize(("fields", "param"), [({"n": 11}, "n"), ({"size": "big"}, "size"),
                                                ({"response_format": "jpeg"}, "response_format")],
                         ids=["n-over-10", "size-not-a-size", "unknown-format"])
def test_a_bad_field_is_a_bad_request_naming_it(served: tuple[str, openai.OpenAI], fields: dict, param: str) -> None:
    kind, client = served
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(prompt="x", model=MODEL[kind], **fields)
    error = caught.value.body
    assert caught.value.status_code == 400 and error["param"] == param
    assert str(fields[param]) in error["message"]


def test_the_error_shape_is_the_official_one(pack_server: PackServer) -> None:
    url = pack_server("mock", ("openai-images",), keys=(KEY,))
    answer = requests.post(url + "/v1/images/generations", json={"prompt": "x", "n": 0},
                           headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
    assert answer.status_code == 400
    assert set(answer.json()) == {"error"} and set(answer.json()["error"]) == {"message", "type", "param", "code"}


def test_a_mask_of_another_size_is_refused_naming_the_mask(pack_server: PackServer) -> None:
    client = _client(pack_server("mock", ("openai-images",), keys=(KEY,)))
    small = alpha_mask().resize((64, 64))
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.edit(image=("p.png", png(picture()), "image/png"), mask=("m.png", png(small), "image/png"),
                           prompt="x")
    assert caught.value.body["param"] == "mask"


def test_the_mock_serves_v6_and_openai_side_by_side(pack_server: PackServer) -> None:
    url = pack_server("mock", ("modelslab-v6", "openai-images"), keys=(KEY,))
    v6 = requests.post(url + "/api/v6/images/text2img", json={"key": KEY, "model_id": "m", "prompt": "p", "width": 256,
                                                              "height": 256, "base64": True}, timeout=10).json()
    assert v6["status"] == "success"
    assert Image.open(io.BytesIO(base64.b64decode(v6["output"][0]))).size == (256, 256)
    result = _client(url).images.generate(prompt="p", n=1, size="256x256", response_format="b64_json")
    assert decode(result.data[0].b64_json).size == (256, 256)
