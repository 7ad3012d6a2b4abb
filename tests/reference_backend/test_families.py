"""Every family (SD 1.5, SDXL, FLUX.1 dev and schnell) over real HTTP: each request field honoured or noted.

One server holds all families (the session's ``tiny_server``). Each test is a cell,
or a row, of the family x field table in the README; a field that does not apply
to a family must say so in ``meta.notes`` and, where the pixels can show it, leave
them unchanged.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from t2i_contract.reference_backend.families import FAMILIES, detect_family, family_of_single_file
from t2i_contract.reference_backend.safety import NO_CHECKER_NOTE
from t2i_contract.reference_backend.tiny import TINY_FAMILY_MODELS

from .support import differ, pixels

if TYPE_CHECKING:
    from pathlib import Path

    from t2i_contract.reference_backend import Generator, TinyModel

    from .support import Server

VISIBLE = 1.0
MODELS = list(TINY_FAMILY_MODELS.values())
EXPECTED = {"tiny-sd": ("sd1", "StableDiffusionPipeline"), "tiny-sdxl": ("sdxl", "StableDiffusionXLPipeline"),
            "tiny-flux": ("flux", "FluxPipeline"), "tiny-flux-schnell": ("flux", "FluxPipeline")}


def cheap(model: str, **fields: Any) -> dict[str, Any]:
    return {"model_id": model, "num_inference_steps": 2, **fields}


def notes(server: Server, **fields: Any) -> list[str]:
    response = server.text2img(**fields)
    assert response.status_code == 200, response.text
    return response.json()["meta"]["notes"]


@pytest.fixture(scope="module")
def bases(tiny_server: Server) -> dict[str, np.ndarray]:
    return {model: pixels(tiny_server, **cheap(model))[0] for model in MODELS}


def test_family_is_read_from_model_index_and_single_file_keys(tiny: TinyModel) -> None:
    found = {model: detect_family(tiny.models_dir / model) for model in MODELS}
    assert found == {"tiny-sd": (FAMILIES["sd1"], ""), "tiny-sdxl": (FAMILIES["sdxl"], ""),
                     "tiny-flux": (FAMILIES["flux"], "dev"), "tiny-flux-schnell": (FAMILIES["flux"], "schnell")}
    assert detect_family(tiny.models_dir / "tiny-sd-single.safetensors") == (FAMILIES["sd1"], "")


@pytest.mark.parametrize("model", MODELS)
def test_each_family_makes_the_requested_size_and_meta_names_family_and_pipeline(
        tiny_server: Server, model: str) -> None:
    response = tiny_server.text2img(**cheap(model, width=256, height=320, samples=2, base64=True))
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", body
    assert (body["meta"]["family"], body["meta"]["pipeline"]) == EXPECTED[model]
    images = pixels(tiny_server, **cheap(model, width=256, height=320, samples=2))
    assert [image.shape for image in images] == [(320, 256, 3)] * 2
    assert differ(images[0], images[1]) > VISIBLE, "two samples of one batch are two images"


@pytest.mark.parametrize("model", MODELS)
def test_same_seed_same_pixels_other_seed_other_pixels(tiny_server: Server, bases: dict[str, np.ndarray],
                                                       model: str) -> None:
    assert differ(pixels(tiny_server, **cheap(model))[0], bases[model]) == 0.0
    assert differ(pixels(tiny_server, **cheap(model, seed=99))[0], bases[model]) > VISIBLE


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("field", ["prompt", "num_inference_steps"])
def test_prompt_and_steps_change_the_image(tiny_server: Server, bases: dict[str, np.ndarray], model: str,
                                           field: str) -> None:
    value = {"prompt": "a blue submarine", "num_inference_steps": 3}[field]
    assert differ(pixels(tiny_server, **cheap(model, **{field: value}))[0], bases[model]) > VISIBLE


@pytest.mark.parametrize("model", MODELS)
def test_negative_prompt_changes_the_image(tiny_server: Server, bases: dict[str, np.ndarray], model: str) -> None:
    assert differ(pixels(tiny_server, **cheap(model, negative_prompt="fog, rain"))[0], bases[model]) > VISIBLE
    if model.startswith("tiny-flux"):
        meta = tiny_server.text2img(**cheap(model, negative_prompt="fog")).json()["meta"]
        assert meta["true_cfg_scale"] == 7.5
        assert any(n.startswith("negative_prompt: FLUX is guidance-distilled") for n in meta["notes"])


def test_flux_negative_prompt_with_guidance_at_most_one_is_noted_and_unused(tiny_server: Server) -> None:
    plain = pixels(tiny_server, **cheap("tiny-flux", guidance_scale=1.0))[0]
    with_negative = cheap("tiny-flux", guidance_scale=1.0, negative_prompt="fog")
    assert differ(pixels(tiny_server, **with_negative)[0], plain) == 0.0
    assert any(n.startswith("negative_prompt: true classifier-free guidance needs") for n in
               notes(tiny_server, **with_negative))


@pytest.mark.parametrize("model", ["tiny-sd", "tiny-sdxl", "tiny-flux"])
def test_guidance_scale_changes_the_image(tiny_server: Server, bases: dict[str, np.ndarray], model: str) -> None:
    assert differ(pixels(tiny_server, **cheap(model, guidance_scale=2.0))[0], bases[model]) > VISIBLE


def test_flux_dev_takes_guidance_as_its_distilled_input(tiny_server: Server) -> None:
    meta = tiny_server.text2img(**cheap("tiny-flux", guidance_scale=3.5)).json()["meta"]
    assert meta["guidance"] == "distilled guidance input 3.5" and meta["variant"] == "dev"


def test_flux_schnell_has_no_guidance_input_and_says_so(tiny_server: Server, bases: dict[str, np.ndarray]) -> None:
    assert differ(pixels(tiny_server, **cheap("tiny-flux-schnell", guidance_scale=2.0))[0],
                  bases["tiny-flux-schnell"]) == 0.0
    assert any(n.startswith("guidance_scale: FLUX.1-schnell has no guidance input")
               for n in notes(tiny_server, **cheap("tiny-flux-schnell")))


@pytest.mark.parametrize("model", ["tiny-sd", "tiny-sdxl"])
def test_clip_skip_changes_the_image(tiny_server: Server, bases: dict[str, np.ndarray], model: str) -> None:
    assert differ(pixels(tiny_server, **cheap(model, clip_skip=1))[0], bases[model]) > VISIBLE
    assert differ(pixels(tiny_server, **cheap(model, clip_skip=5))[0], bases[model]) > VISIBLE


def test_sdxl_clip_skip_picks_the_layer_of_both_encoders(tiny_server: Server) -> None:
    meta = tiny_server.text2img(**cheap("tiny-sdxl", clip_skip=3)).json()["meta"]
    assert meta["clip_skip_layer"] == "hidden_states[-3] of both text encoders"


@pytest.mark.parametrize("model", ["tiny-flux", "tiny-flux-schnell"])
def test_flux_clip_skip_does_not_apply_and_is_noted(tiny_server: Server, bases: dict[str, np.ndarray],
                                                     model: str) -> None:
    assert differ(pixels(tiny_server, **cheap(model, clip_skip=5))[0], bases[model]) == 0.0
    assert any(n.startswith("clip_skip: FLUX uses only CLIP's pooled output") for n in
               notes(tiny_server, **cheap(model, clip_skip=5)))


def test_sdxl_size_conditioning_is_the_requested_size(tiny_server: Server) -> None:
    meta = tiny_server.text2img(**cheap("tiny-sdxl", width=256, height=320)).json()["meta"]
    assert meta["size_conditioning"] == {"original_size": [320, 256], "target_size": [320, 256],
                                         "crops_coords_top_left": [0, 0]}


def test_sdxl_empty_negative_prompt_gives_zero_embeddings(tiny_server: Server) -> None:
    meta = tiny_server.text2img(**cheap("tiny-sdxl")).json()["meta"]
    assert meta["negative_prompt_embeds"] == "zeros (force_zeros_for_empty_prompt)"
    assert "negative_prompt_embeds" not in tiny_server.text2img(**cheap("tiny-sdxl", negative_prompt="x")).json()[
        "meta"]


@pytest.mark.parametrize("model", MODELS)
def test_safety_checker_without_a_classifier_is_noted(tiny_server: Server, model: str) -> None:
    assert NO_CHECKER_NOTE in notes(tiny_server, **cheap(model, safety_checker=True))


def test_vae_decodes_sdxl_with_the_named_vae(tiny_server: Server, bases: dict[str, np.ndarray]) -> None:
    assert differ(pixels(tiny_server, **cheap("tiny-sdxl", vae="tiny-vae"))[0], bases["tiny-sdxl"]) > VISIBLE


def test_a_vae_that_does_not_fit_flux_is_refused_naming_it(tiny_server: Server) -> None:
    response = tiny_server.text2img(**cheap("tiny-flux", vae="tiny-vae"))
    assert response.status_code == 400
    body = response.json()
    assert body["errors"][0]["field"] == "vae" and "VAE tiny-vae does not fit model tiny-flux" in body["message"]


def test_flux_size_must_be_a_multiple_of_16(tiny_server: Server) -> None:
    response = tiny_server.text2img(**cheap("tiny-flux", width=264))
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "width"
    assert tiny_server.text2img(**cheap("tiny-sdxl", width=264)).status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_highres_fix_runs_the_familys_img2img_at_the_requested_size(tiny_server: Server, model: str) -> None:
    body = tiny_server.text2img(**cheap(model, highres_fix=True, width=256, height=320)).json()
    assert body["meta"]["pipeline"] == f"{EXPECTED[model][1]} + " + {
        "sd1": "StableDiffusionImg2ImgPipeline", "sdxl": "StableDiffusionXLImg2ImgPipeline",
        "flux": "FluxImg2ImgPipeline"}[EXPECTED[model][0]]
    assert [i.shape for i in pixels(tiny_server, **cheap(model, highres_fix=True, width=256, height=320))] == [
        (320, 256, 3)]


@pytest.mark.parametrize("model", MODELS)
def test_service_fields_apply_to_every_family(tiny_server: Server, model: str) -> None:
    meta = tiny_server.text2img(**cheap(model, upscale=True, enhance_prompt=True, multi_lingual=True,
                                        track_id="t-1")).json()["meta"]
    assert meta["upscaler"].startswith("Pillow")
    assert any(n.startswith("enhance_prompt:") for n in meta["notes"])
    assert any(n.startswith("multi_lingual:") for n in meta["notes"])
    assert pixels(tiny_server, **cheap(model, upscale=True))[0].shape == (512, 512, 3)


@pytest.mark.parametrize(("keys", "expected"), [
    (["model.diffusion_model.input_blocks.0.0.weight", "cond_stage_model.transformer.text_model.x"], ("sd1", "")),
    (["model.diffusion_model.input_blocks.0.0.weight", "cond_stage_model.model.transformer.x"], ("sd2", "")),
    (["model.diffusion_model.input_blocks.0.0.weight", "conditioner.embedders.1.model.x"], ("sdxl", "")),
    (["double_blocks.0.img_attn.qkv.weight", "guidance_in.in_layer.weight"], ("flux", "dev")),
    (["model.diffusion_model.double_blocks.0.img_attn.qkv.weight"], ("flux", "schnell")),
], ids=["sd1", "sd2", "sdxl", "flux-dev", "flux-schnell"])
def test_a_single_files_family_is_told_by_its_keys(tmp_path: Path, keys: list[str],
                                                   expected: tuple[str, str]) -> None:
    import torch
    from safetensors.torch import save_file

    path = tmp_path / "model.safetensors"
    save_file({key: torch.zeros(1) for key in keys}, str(path))
    family, variant = family_of_single_file(path)
    assert (family.name, variant) == expected


def test_a_single_file_of_no_known_family_is_a_400_naming_the_model(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    from t2i_contract.reference_backend.errors import UnsupportedError

    save_file({"something.weight": torch.zeros(1)}, str(tmp_path / "odd.safetensors"))
    with pytest.raises(UnsupportedError) as caught:
        family_of_single_file(tmp_path / "odd.safetensors")
    assert caught.value.field == "model_id" and caught.value.value == "odd"


def test_a_vae_that_does_not_fit_is_refused_before_queueing(tiny_generator: Generator) -> None:
    from t2i_contract.reference_backend.errors import UnsupportedError
    from t2i_contract.spec import parse_text2img

    body = {"key": "k", "model_id": "tiny-flux", "prompt": "p", "width": 256, "height": 256, "vae": "tiny-vae"}
    with pytest.raises(UnsupportedError) as caught:
        tiny_generator.check(parse_text2img(body))
    assert caught.value.field == "vae"
    tiny_generator.check(parse_text2img(body | {"model_id": "tiny-sdxl"}))


@pytest.mark.parametrize(("index", "width", "expected"), [
    ({"_class_name": "StableDiffusionPipeline"}, 768, "sd1"),
    ({"_class_name": "StableDiffusionPipeline"}, 1024, "sd2"),
    ({"_class_name": "StableDiffusionXLPipeline"}, 2048, "sdxl"),
], ids=["sd1", "sd2", "sdxl-pony"])
def test_sd_versions_are_told_apart_by_the_unets_text_width(tmp_path: Path, index: dict[str, str], width: int,
                                                            expected: str) -> None:
    import json

    (tmp_path / "unet").mkdir()
    (tmp_path / "model_index.json").write_text(json.dumps(index))
    (tmp_path / "unet" / "config.json").write_text(json.dumps({"cross_attention_dim": width}))
    assert detect_family(tmp_path)[0].name == expected


def test_a_pipeline_of_no_known_family_is_a_400_naming_the_model(tmp_path: Path) -> None:
    from t2i_contract.reference_backend.errors import UnsupportedError

    (tmp_path / "model_index.json").write_text('{"_class_name": "KandinskyPipeline"}')
    with pytest.raises(UnsupportedError, match="is a KandinskyPipeline; this backend runs"):
        detect_family(tmp_path)
