"""img2img, inpaint and model_reload on the tiny models over real HTTP: the init image and strength change
the result, inpaint changes the masked region and returns every unmasked pixel exactly, the output has the
init image's size, and what a model cannot run is a 400 naming the field."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from t2i_contract.reference_backend import TinyModel
from t2i_contract.reference_backend.tiny import TINY_FAMILY_MODELS, TINY_INPAINT_MODEL_ID
from tests.input_images import half_mask, photo, png_base64

from .support import API, KEY, Server, decode_png, differ, serve


def run(server: Server, operation: str, init: Image.Image, **fields: Any) -> list[np.ndarray]:
    body = {"key": KEY, "model_id": "tiny-sd", "prompt": "a red lighthouse", "num_inference_steps": 4,
            "seed": 5, "base64": True, "init_image": png_base64(init), **fields}
    response = server.post(f"{API}/{operation}", body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "success", answer
    assert (answer["meta"]["width"], answer["meta"]["height"]) == init.size
    images = [decode_png(item).convert("RGB") for item in answer["output"]]
    assert all(image.size == init.size for image in images)
    return [np.asarray(image, dtype=np.float32) for image in images]


def test_img2img_output_has_the_init_size_and_the_init_image_changes_it(tiny_server: Server) -> None:
    first = run(tiny_server, "img2img", photo())[0]
    other = run(tiny_server, "img2img", photo(colour=(220, 20, 20)))[0]
    assert differ(first, other) > 1.0


def test_img2img_strength_changes_the_result_and_low_strength_stays_near_the_init(tiny_server: Server) -> None:
    init = photo()
    base = np.asarray(init, dtype=np.float32)
    weak = run(tiny_server, "img2img", init, strength=0.3, num_inference_steps=10)[0]
    strong = run(tiny_server, "img2img", init, strength=1.0, num_inference_steps=10)[0]
    assert differ(weak, strong) > 1.0
    assert differ(weak, base) < differ(strong, base)


def test_an_init_image_off_the_size_grid_comes_back_at_its_own_size(tiny_server: Server) -> None:
    run(tiny_server, "img2img", photo((101, 67)))


@pytest.mark.parametrize("model", [TINY_INPAINT_MODEL_ID, "tiny-sd"], ids=["inpainting-unet", "generic"])
def test_inpaint_changes_the_masked_half_and_keeps_the_other_exactly(tiny_server: Server, model: str) -> None:
    init = photo()
    mask = half_mask(init.size)
    out = run(tiny_server, "inpaint", init, model_id=model, mask_image=png_base64(mask), samples=2)
    base = np.asarray(init, dtype=np.float32)
    for image in out:
        assert np.array_equal(image[:, :48], base[:, :48])
        assert differ(image[:, 48:], base[:, 48:]) > 1.0


def test_the_inpainting_model_is_refused_for_text2img_and_img2img(tiny_server: Server) -> None:
    body = {"key": KEY, "model_id": TINY_INPAINT_MODEL_ID, "prompt": "p", "init_image": png_base64(photo())}
    for operation in ("text2img", "img2img"):
        response = tiny_server.post(f"{API}/{operation}", body)
        assert response.status_code == 400, operation
        error = response.json()["errors"][0]
        assert error["field"] == "model_id" and "inpainting model" in error["message"]


@pytest.mark.parametrize(("model", "strength", "steps"), [
    ("tiny-sd", 0.0, 5), ("tiny-sd", 0.1, 5), (TINY_INPAINT_MODEL_ID, 0.0, 5), (TINY_FAMILY_MODELS["flux"], 0.0, 4),
], ids=["zero", "below-one-step", "inpaint-zero", "flux-zero"])
def test_no_denoising_step_returns_the_init_image_as_it_is(tiny_server: Server, model: str, strength: float,
                                                           steps: int) -> None:
    init = photo((64, 64))
    extra = {"mask_image": png_base64(half_mask(init.size))} if "inpaint" in model else {}
    operation = "inpaint" if extra else "img2img"
    out = run(tiny_server, operation, init, model_id=model, strength=strength, num_inference_steps=steps, **extra)
    assert np.array_equal(out[0], np.asarray(init, dtype=np.float32))


def test_one_step_from_a_low_strength_runs_and_changes_the_image(tiny_server: Server) -> None:
    init = photo()
    out = run(tiny_server, "img2img", init, strength=0.2, num_inference_steps=5)[0]
    assert differ(out, np.asarray(init, dtype=np.float32)) > 0.0


@pytest.mark.parametrize("family", ["sdxl", "flux"])
def test_img2img_and_inpaint_run_on_the_other_families(tiny_server: Server, family: str) -> None:
    init = photo((64, 64))
    model = TINY_FAMILY_MODELS[family]
    plain = run(tiny_server, "img2img", init, model_id=model, num_inference_steps=4, strength=0.5)[0]
    assert differ(plain, run(tiny_server, "img2img", photo((64, 64), (0, 0, 0)), model_id=model,
                              num_inference_steps=4, strength=0.5)[0]) > 1.0
    painted = run(tiny_server, "inpaint", init, model_id=model, num_inference_steps=2, strength=1.0,
                  mask_image=png_base64(half_mask(init.size)))[0]
    assert np.array_equal(painted[:, :32], np.asarray(init, dtype=np.float32)[:, :32])


def test_model_reload_loads_the_model_and_answers_success(tiny_server: Server) -> None:
    response = tiny_server.post(f"{API}/model_reload", {"key": KEY, "model_id": "tiny-sd"})
    assert response.status_code == 200
    assert response.json()["status"] == "success" and "tiny-sd" in response.json()["message"]


def test_model_reload_of_an_unknown_model_is_a_404(tiny_server: Server) -> None:
    response = tiny_server.post(f"{API}/model_reload", {"key": KEY, "model_id": "no-such-model"})
    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "model_id"


@pytest.mark.parametrize("fields", [{"lora_model": "tiny-style", "lora_strength": 1.0}, {"vae": "tiny-vae"},
                                    {"scheduler": "EulerDiscreteScheduler"}, {"seed": 6}],
                         ids=["lora", "vae", "scheduler", "seed"])
@pytest.mark.parametrize("operation", ["img2img", "inpaint"])
def test_loras_vae_scheduler_and_seed_apply_as_in_text2img(tiny_server: Server, operation: str,
                                                           fields: dict[str, Any]) -> None:
    init = photo()
    extra = {"mask_image": png_base64(half_mask(init.size))} if operation == "inpaint" else {}
    plain = run(tiny_server, operation, init, strength=1.0, **extra)[0]
    changed = run(tiny_server, operation, init, strength=1.0, **extra, **fields)[0]
    assert differ(plain[:, 48:], changed[:, 48:]) > 0.5


@pytest.mark.parametrize("operation", ["img2img", "inpaint"])
def test_the_ip_adapter_reference_image_steers_img2img_and_inpaint(tiny_server: Server, operation: str) -> None:
    init = photo()
    extra = {"mask_image": png_base64(half_mask(init.size))} if operation == "inpaint" else {}
    adapter = {"ip_adapter_id": "ip-adapter_sd15", "ip_adapter_scale": 1.0}
    red = run(tiny_server, operation, init, strength=1.0, **extra, **adapter,
              ip_adapter_image=png_base64(Image.new("RGB", (64, 64), (255, 0, 0))))[0]
    blue = run(tiny_server, operation, init, strength=1.0, **extra, **adapter,
               ip_adapter_image=png_base64(Image.new("RGB", (64, 64), (0, 0, 255))))[0]
    assert differ(red[:, 48:], blue[:, 48:]) > 0.5


def test_the_safety_checker_classifies_img2img_and_inpaint_results(tiny: TinyModel, tmp_path: Path) -> None:
    from t2i_contract.reference_backend.diffusion import DiffusersGenerator

    class FlagsAll:
        def classify(self, images: list[Image.Image]) -> list[bool]:
            return [True] * len(images)

    generator = DiffusersGenerator(models_dir=tiny.models_dir, classifier=FlagsAll(), torch_threads=1)
    init = photo()
    with serve(generator, tmp_path) as server:
        for operation, extra in [("img2img", {}), ("inpaint", {"mask_image": png_base64(half_mask(init.size))})]:
            body = {"key": KEY, "model_id": "tiny-sd", "init_image": png_base64(init), "num_inference_steps": 2,
                    "safety_checker": "yes", "safety_checker_type": "black", "base64": True, **extra}
            answer = server.post(f"{API}/{operation}", body).json()
            assert answer["nsfw_content_detected"] is True, answer
            assert float(np.asarray(decode_png(answer["output"][0])).max()) == 0.0
