"""IP-Adapter for real, over HTTP: a local adapter, a reference image from a loopback URL, and its scale.

The reference images are real PNGs served by a small WSGI app on a free loopback
port; the session's generator allows loopback URLs (``UrlPolicy(allow_private=True)``).
"""
from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
import pytest
from PIL import Image

from t2i_contract.reference_backend.ip_adapter import adapter_family
from t2i_contract.reference_backend.tiny import tiny_ip_adapters
from tests.support import ServerThread

from .support import differ, pixels, serve_process

if TYPE_CHECKING:
    from pathlib import Path

    from t2i_contract.reference_backend import TinyModel

    from .support import Server

VISIBLE = 1.0
COLOURS = {"red.png": (220, 30, 30), "blue.png": (20, 40, 230)}
CASES = [("tiny-sd" if family == "sd1" else "tiny-sdxl", adapter) for family, ids in tiny_ip_adapters().items()
         for adapter in ids]


def _png(colour: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", (64, 64), colour)
    image.paste((255, 255, 255), (16, 16, 48, 48))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _images_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    name = environ["PATH_INFO"].lstrip("/")
    if name in COLOURS:
        start_response("200 OK", [("Content-Type", "image/png")])
        return [_png(COLOURS[name])]
    if name == "text.txt":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"not an image"]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no such image"]


@pytest.fixture(scope="module")
def images_url() -> Iterator[str]:
    with ServerThread(_images_app) as server:
        yield server.url


def generate(server: Server, model: str, **fields: Any) -> np.ndarray:
    return pixels(server, model_id=model, num_inference_steps=2, **fields)[0]


@pytest.mark.parametrize(("model", "adapter"), CASES, ids=[adapter for _, adapter in CASES])
def test_image_and_scale_change_the_output_and_leaving_it_out_restores_the_base(
        tiny_server: Server, images_url: str, model: str, adapter: str) -> None:
    base = generate(tiny_server, model)
    red = generate(tiny_server, model, ip_adapter_id=adapter, ip_adapter_image=f"{images_url}/red.png")
    blue = generate(tiny_server, model, ip_adapter_id=adapter, ip_adapter_image=f"{images_url}/blue.png")
    weak = generate(tiny_server, model, ip_adapter_id=adapter, ip_adapter_image=f"{images_url}/red.png",
                    ip_adapter_scale=0.2)
    assert differ(red, base) > VISIBLE
    assert differ(red, blue) > VISIBLE, "the reference image steers the output"
    assert differ(red, weak) > VISIBLE, "the scale weighs it"
    again = generate(tiny_server, model, ip_adapter_id=adapter, ip_adapter_image=f"{images_url}/red.png")
    assert differ(again, red) == 0.0
    assert differ(generate(tiny_server, model), base) == 0.0, "the adapter is unloaded for a request without it"


@pytest.mark.parametrize(("model", "adapter"), CASES, ids=[adapter for _, adapter in CASES])
def test_meta_names_the_adapter_and_its_scale(tiny_server: Server, images_url: str, model: str,
                                              adapter: str) -> None:
    body = tiny_server.text2img(model_id=model, num_inference_steps=2, ip_adapter_id=adapter,
                                ip_adapter_image=f"{images_url}/red.png", ip_adapter_scale=0.6).json()
    assert body["meta"]["ip_adapter"] == {"id": adapter, "scale": 0.6}


def test_ip_adapter_works_with_a_lora_and_highres_fix(tiny_server: Server, images_url: str) -> None:
    image = generate(tiny_server, "tiny-sd", ip_adapter_id="ip-adapter_sd15", ip_adapter_image=f"{images_url}/red.png",
                     lora_model="tiny-style", highres_fix=True)
    assert image.shape == (256, 256, 3)


@pytest.mark.parametrize(("model", "adapter", "message"), [
    ("tiny-sd", "ip-adapter_sdxl", "IP-Adapter ip-adapter_sdxl is made for SDXL (family sdxl), but model tiny-sd "
                                   "is SD 1.x (family sd1)"),
    ("tiny-sdxl", "ip-adapter_sd15", "IP-Adapter ip-adapter_sd15 is made for SD 1.5 (family sd1), but model "
                                     "tiny-sdxl is SDXL"),
    ("tiny-flux", "ip-adapter_sdxl", "IP-Adapter ip-adapter_sdxl cannot run on model tiny-flux (FLUX.1)"),
    ("tiny-flux-schnell", "ip-adapter_sd15", "IP-Adapter ip-adapter_sd15 cannot run on model tiny-flux-schnell"),
], ids=["sdxl-on-sd", "sd15-on-sdxl", "on-flux", "on-flux-schnell"])
def test_an_adapter_of_another_family_is_a_400_naming_it(tiny_server: Server, images_url: str, model: str,
                                                             adapter: str, message: str) -> None:
    response = tiny_server.text2img(model_id=model, ip_adapter_id=adapter, ip_adapter_image=f"{images_url}/red.png")
    assert response.status_code == 400
    body = response.json()
    assert body["errors"][0]["field"] == "ip_adapter_id" and body["errors"][0]["value"] == adapter
    assert body["message"].startswith(message)


@pytest.mark.parametrize(("folder", "message"), [
    ("none", "IP-Adapter ip-adapter_sd15 is not available: this server was started without an IP-Adapter folder"),
    ("empty", "IP-Adapter ip-adapter_sd15 is not installed here"),
    ("no-encoder", "IP-Adapter ip-adapter_sd15 is not installed here"),
], ids=["no-folder", "empty-folder", "without-image-encoder"])
def test_a_missing_adapter_is_a_400_naming_it(tiny: TinyModel, tmp_path: Path, folder: str, message: str) -> None:
    import shutil

    from t2i_contract.reference_backend.diffusion import DiffusersGenerator
    from t2i_contract.reference_backend.errors import UnsupportedError
    from t2i_contract.spec import parse_text2img

    if folder == "no-encoder":
        shutil.copytree(tiny.ip_adapters_dir / "ip-adapter_sd15", tmp_path / "ip-adapter_sd15",
                        ignore=shutil.ignore_patterns("image_encoder"))
    generator = DiffusersGenerator(models_dir=tiny.models_dir, ip_adapters_dir=None if folder == "none" else tmp_path)
    request = parse_text2img({"key": "k", "model_id": "tiny-sd", "prompt": "p", "ip_adapter_id": "ip-adapter_sd15",
                              "ip_adapter_image": "https://example.com/face.png"})
    with pytest.raises(UnsupportedError) as caught:
        generator.check(request)
    assert caught.value.status == 400 and caught.value.field == "ip_adapter_id"
    assert caught.value.message.startswith(message)


@pytest.mark.parametrize("name", ["text.txt", "missing.png"])
def test_an_unusable_reference_image_is_a_400_naming_the_field(tiny_server: Server, images_url: str,
                                                                name: str) -> None:
    response = tiny_server.text2img(model_id="tiny-sd", ip_adapter_id="ip-adapter_sd15",
                                    ip_adapter_image=f"{images_url}/{name}")
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == "ip_adapter_image"


@pytest.mark.parametrize(("adapter", "family"), [
    ("ip-adapter_sd15", "sd1"), ("ip-adapter-plus-face_sd15", "sd1"), ("ip-adapter_sdxl", "sdxl"),
    ("ip-adapter-plus_sdxl_vit-h", "sdxl"), ("ip-adapter-plus-face_sdxl_vit-h", "sdxl"), ("something", None)])
def test_the_enum_ids_name_their_family(adapter: str, family: str | None) -> None:
    assert adapter_family(adapter) == family


def test_t2i_serve_takes_ip_adapters_from_its_flag_and_fetches_under_its_url_policy(
        tiny: TinyModel, images_url: str, tmp_path: Path) -> None:
    import requests

    body = {"key": "k", "model_id": "tiny-sd", "prompt": "a lighthouse", "width": 256, "height": 256,
            "num_inference_steps": 2, "ip_adapter_id": "ip-adapter_sd15", "ip_adapter_image": f"{images_url}/red.png"}
    with serve_process(models=str(tiny.models_dir), ip_adapters=str(tiny.ip_adapters_dir),
                       data=str(tmp_path / "strict")) as strict:
        refused = requests.post(f"{strict.url}/api/v6/images/text2img", json=body, timeout=60)
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "ip_adapter_image"
    assert "loopback" in refused.json()["message"]
    with serve_process(models=str(tiny.models_dir), ip_adapters=str(tiny.ip_adapters_dir), private_urls="allow",
                       data=str(tmp_path / "open")) as server:
        answer = requests.post(f"{server.url}/api/v6/images/text2img", json=body, timeout=60).json()
    assert answer["status"] == "success", answer
    assert answer["meta"]["ip_adapter"] == {"id": "ip-adapter_sd15", "scale": 1.0}


@pytest.mark.parametrize(("model", "lora"), [("tiny-sd", "tiny-style"), ("tiny-sdxl", "tiny-sdxl-style")])
def test_loras_give_the_same_image_after_an_adapter_came_and_went(tiny_server: Server, images_url: str, model: str,
                                                                   lora: str) -> None:
    before = generate(tiny_server, model, lora_model=lora)
    adapter = "ip-adapter_sd15" if model == "tiny-sd" else "ip-adapter_sdxl"
    with_both = generate(tiny_server, model, lora_model=lora, ip_adapter_id=adapter,
                         ip_adapter_image=f"{images_url}/red.png")
    assert differ(with_both, before) > VISIBLE
    assert differ(generate(tiny_server, model, lora_model=lora), before) == 0.0
