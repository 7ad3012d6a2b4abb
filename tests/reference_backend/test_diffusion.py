"""Generation semantics of the diffusers generator, over real HTTP on the tiny model.

Every image comes back as base64 PNG and is compared pixel by pixel: PNG is
lossless, so "identical" means every pixel is equal.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest

from t2i_contract.reference_backend.diffusion import api_clip_skip_to_diffusers

from .support import decode_png, differ, pixels, serve

if TYPE_CHECKING:
    from pathlib import Path

    from t2i_contract.reference_backend import Generator, TinyModel

    from .support import Server

VISIBLE = 1.0  # mean absolute difference (0-255) above which two images clearly differ


@pytest.fixture(scope="module")
def base(tiny_server: Server) -> np.ndarray:
    return pixels(tiny_server)[0]


def test_same_seed_gives_identical_images(tiny_server: Server, base: np.ndarray) -> None:
    assert differ(pixels(tiny_server)[0], base) == 0.0


def test_another_seed_gives_another_image(tiny_server: Server, base: np.ndarray) -> None:
    assert differ(pixels(tiny_server, seed=99)[0], base) > VISIBLE


def test_prompt_changes_the_image(tiny_server: Server, base: np.ndarray) -> None:
    assert differ(pixels(tiny_server, prompt="a blue submarine")[0], base) > VISIBLE


def test_negative_prompt_changes_the_image(tiny_server: Server, base: np.ndarray) -> None:
    assert differ(pixels(tiny_server, negative_prompt="fog, rain")[0], base) > VISIBLE


def test_guidance_scale_and_steps_change_the_image(tiny_server: Server, base: np.ndarray) -> None:
    assert differ(pixels(tiny_server, guidance_scale=2.0)[0], base) > VISIBLE
    assert differ(pixels(tiny_server, num_inference_steps=2)[0], base) > VISIBLE


def test_null_seed_picks_a_random_seed_and_reports_it(tiny_server: Server, base: np.ndarray) -> None:
    response = tiny_server.text2img(seed=None, base64=True)
    body = response.json()
    seed = body["meta"]["seed"]
    assert isinstance(seed, int) and 0 <= seed < 2**32
    again = pixels(tiny_server, seed=seed)[0]
    from .support import decode_png

    first = np.asarray(decode_png(body["output"][0]).convert("RGB"), dtype=np.float32)
    assert differ(first, again) == 0.0


def test_samples_are_one_batch_of_distinct_images_with_requested_size(tiny_server: Server) -> None:
    images = pixels(tiny_server, samples=3, width=256, height=320)
    assert len(images) == 3
    assert all(image.shape == (320, 256, 3) for image in images)
    assert differ(images[0], images[1]) > VISIBLE and differ(images[1], images[2]) > VISIBLE


def test_a_lora_changes_the_output(tiny_server: Server, base: np.ndarray) -> None:
    for lora in ("tiny-style", "tiny-detail", "tiny-kohya"):
        assert differ(pixels(tiny_server, lora_model=lora)[0], base) > VISIBLE, lora


def test_lora_strength_changes_the_output(tiny_server: Server) -> None:
    full = pixels(tiny_server, lora_model="tiny-kohya", lora_strength=1.0)[0]
    weak = pixels(tiny_server, lora_model="tiny-kohya", lora_strength="0.3")[0]
    assert differ(full, weak) > VISIBLE


def test_two_loras_together_differ_from_each_alone(tiny_server: Server) -> None:
    style = pixels(tiny_server, lora_model="tiny-style")[0]
    kohya = pixels(tiny_server, lora_model="tiny-kohya")[0]
    both = pixels(tiny_server, lora_model="tiny-style,tiny-kohya", lora_strength="1,1")[0]
    assert differ(both, style) > VISIBLE and differ(both, kohya) > VISIBLE


def test_per_lora_strengths_apply_to_their_own_lora(tiny_server: Server) -> None:
    a = pixels(tiny_server, lora_model="tiny-style,tiny-detail", lora_strength="0.3,1")[0]
    b = pixels(tiny_server, lora_model="tiny-style,tiny-detail", lora_strength="1,0.3")[0]
    assert differ(a, b) > VISIBLE


def test_removing_loras_restores_the_base_output_exactly(tiny_server: Server, base: np.ndarray) -> None:
    pixels(tiny_server, lora_model="tiny-style,tiny-detail,tiny-kohya", lora_strength="0.5,0.7,0.9")
    assert differ(pixels(tiny_server)[0], base) == 0.0
    assert differ(pixels(tiny_server, lora_model="")[0], base) == 0.0


def test_a_lora_combination_gives_the_same_image_whatever_ran_before(tiny_server: Server) -> None:
    first = pixels(tiny_server, lora_model="tiny-detail", lora_strength=0.8)[0]
    pixels(tiny_server, lora_model="tiny-style,tiny-kohya")
    pixels(tiny_server, lora_model="tiny-kohya", lora_strength=0.2)
    assert differ(pixels(tiny_server, lora_model="tiny-detail", lora_strength=0.8)[0], first) == 0.0


def test_adapters_are_loaded_once_and_cached(tiny_server: Server, tiny_generator: Generator) -> None:
    pixels(tiny_server, lora_model="tiny-style,tiny-kohya")
    loaded = tiny_generator._models["tiny-sd"]
    names = dict(loaded.adapters)
    counter = loaded.adapter_counter
    pixels(tiny_server, lora_model="tiny-kohya,tiny-style", lora_strength="0.5,0.4")
    assert dict(loaded.adapters) == names
    assert loaded.adapter_counter == counter


@pytest.mark.parametrize(("api", "diffusers"), [(1, None), (2, 1), (8, 7)], ids=["1-none", "2-one", "8-seven"])
def test_clip_skip_maps_web_ui_numbering_to_diffusers(api: int, diffusers: int | None) -> None:
    assert api_clip_skip_to_diffusers(api) == diffusers


def test_clip_skip_changes_the_image_and_is_reported(tiny_server: Server, base: np.ndarray) -> None:
    response = tiny_server.text2img(clip_skip=1)
    assert response.json()["meta"]["clip_skip_diffusers"] is None
    assert differ(pixels(tiny_server, clip_skip=1)[0], base) > VISIBLE
    assert differ(pixels(tiny_server, clip_skip=4)[0], base) > VISIBLE


def test_vae_decodes_with_the_named_vae(tiny_server: Server, base: np.ndarray) -> None:
    assert differ(pixels(tiny_server, vae="tiny-vae")[0], base) > VISIBLE
    assert differ(pixels(tiny_server)[0], base) == 0.0  # the model's own VAE is back


def test_highres_fix_refines_at_the_requested_size(tiny_server: Server, base: np.ndarray) -> None:
    image = pixels(tiny_server, highres_fix=True, samples=2)
    assert [i.shape for i in image] == [(256, 256, 3)] * 2
    assert differ(image[0], base) > VISIBLE


@pytest.mark.parametrize(("field", "value", "message"), [
    ("model_id", "no-such-model", "Model not found: no-such-model"),
    ("lora_model", "tiny-style,no-such-lora", "LoRA not found: no-such-lora"),
    ("vae", "no-such-vae", "VAE not found: no-such-vae"),
], ids=["model", "lora", "vae"])
def test_unknown_resources_get_404_naming_them(tiny_server: Server, field: str, value: object, message: str) -> None:
    response = tiny_server.text2img(**{field: value})
    assert response.status_code == 404
    body = response.json()
    assert body["status"] == "error" and body["message"] == message
    assert body["errors"][0]["field"] == field


def test_a_lora_listed_twice_is_refused(tiny_server: Server) -> None:
    response = tiny_server.text2img(lora_model="tiny-style,tiny-style")
    assert response.status_code == 400
    assert "more than once" in response.json()["message"]


def test_strength_count_mismatch_is_refused(tiny_server: Server) -> None:
    response = tiny_server.text2img(lora_model="tiny-style,tiny-kohya", lora_strength="0.5,0.6,0.7")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "lora_strength"


@pytest.mark.parametrize("width", [260, 1030, 100], ids=["not-multiple-of-8", "too-big", "too-small"])
def test_bad_width_is_refused_with_the_field_named(tiny_server: Server, width: int) -> None:
    response = tiny_server.text2img(width=width)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "width"


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_dtypes_generate_with_loras_and_vae(tiny: TinyModel, tmp_path: Path, dtype: str) -> None:
    from t2i_contract.reference_backend.diffusion import DiffusersGenerator

    generator = DiffusersGenerator(models_dir=tiny.models_dir, loras_dir=tiny.loras_dir, vaes_dir=tiny.vaes_dir,
                                   dtype=dtype, torch_threads=1)
    with serve(generator, tmp_path) as server:
        body = server.text2img(lora_model="tiny-style,tiny-kohya", vae="tiny-vae", base64=True).json()
    assert body["status"] == "success", body
    assert body["meta"]["dtype"] == dtype
    assert decode_png(body["output"][0]).size == (256, 256)
