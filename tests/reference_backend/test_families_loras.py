"""LoRAs per family, in the formats people publish, over real HTTP; a LoRA for another family is a 400.

Formats: SD and SDXL diffusers/peft and kohya (SDXL's with ``lora_te2_`` keys);
FLUX diffusers/peft as ai-toolkit saves it, kohya sd-scripts and XLabs.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from t2i_contract.reference_backend.errors import UnsupportedError
from t2i_contract.reference_backend.families import FAMILIES
from t2i_contract.reference_backend.loras import check_lora_family, lora_family
from t2i_contract.reference_backend.tiny import TINY_FAMILY_LORAS, TINY_FAMILY_MODELS

from .support import differ, pixels

if TYPE_CHECKING:
    from pathlib import Path

    from t2i_contract.reference_backend import TinyModel

    from .support import Server

VISIBLE = 1.0
CASES = [(TINY_FAMILY_MODELS[family], lora) for family in ("sdxl", "flux") for lora in TINY_FAMILY_LORAS[family]]
CASES += [(TINY_FAMILY_MODELS["flux-schnell"], lora) for lora in TINY_FAMILY_LORAS["flux"]]


@pytest.fixture(scope="module")
def bases(tiny_server: Server) -> dict[str, np.ndarray]:
    return {model: pixels(tiny_server, model_id=model, num_inference_steps=2)[0]
            for model in ("tiny-sdxl", "tiny-flux", "tiny-flux-schnell")}


@pytest.mark.parametrize(("model", "lora"), CASES, ids=[f"{lora}-on-{model}" for model, lora in CASES])
def test_each_format_loads_and_changes_the_output(tiny_server: Server, bases: dict[str, np.ndarray], model: str,
                                                  lora: str) -> None:
    assert differ(pixels(tiny_server, model_id=model, num_inference_steps=2, lora_model=lora)[0],
                  bases[model]) > VISIBLE


@pytest.mark.parametrize(("model", "lora"), [("tiny-sdxl", "tiny-sdxl-kohya"), ("tiny-flux", "tiny-flux-kohya")])
def test_strength_matters(tiny_server: Server, model: str, lora: str) -> None:
    full = pixels(tiny_server, model_id=model, num_inference_steps=2, lora_model=lora, lora_strength=1.0)[0]
    weak = pixels(tiny_server, model_id=model, num_inference_steps=2, lora_model=lora, lora_strength=0.3)[0]
    assert differ(full, weak) > VISIBLE


@pytest.mark.parametrize("model", ["tiny-sdxl", "tiny-flux"])
def test_multi_lora_with_strengths_and_back_to_the_base(tiny_server: Server, bases: dict[str, np.ndarray],
                                                        model: str) -> None:
    family = "sdxl" if model == "tiny-sdxl" else "flux"
    first, second = TINY_FAMILY_LORAS[family][:2]
    both = f"{first},{second}"
    one = pixels(tiny_server, model_id=model, num_inference_steps=2, lora_model=both, lora_strength="0.3,1")[0]
    other = pixels(tiny_server, model_id=model, num_inference_steps=2, lora_model=both, lora_strength="1,0.3")[0]
    assert differ(one, other) > VISIBLE
    assert differ(pixels(tiny_server, model_id=model, num_inference_steps=2)[0], bases[model]) == 0.0


@pytest.mark.parametrize(("model", "lora", "lora_family_title", "model_family"), [
    ("tiny-sdxl", "tiny-style", "SD 1.x (family sd1)", "SDXL (Pony included) (family sdxl)"),
    ("tiny-sd", "tiny-sdxl-style", "SDXL (Pony included) (family sdxl)", "SD 1.x (family sd1)"),
    ("tiny-flux", "tiny-sdxl-kohya", "SDXL (Pony included) (family sdxl)", "FLUX.1 (family flux)"),
    ("tiny-sd", "tiny-flux-xlabs", "FLUX.1 (family flux)", "SD 1.x (family sd1)"),
], ids=["sd-on-sdxl", "sdxl-on-sd", "sdxl-on-flux", "flux-on-sd"])
def test_a_lora_for_another_family_is_refused_naming_both_families(
        tiny_server: Server, model: str, lora: str, lora_family_title: str, model_family: str) -> None:
    response = tiny_server.text2img(model_id=model, lora_model=lora)
    assert response.status_code == 400
    body = response.json()
    assert body["errors"][0]["field"] == "lora_model" and body["errors"][0]["value"] == lora
    assert body["message"].startswith(f"LoRA {lora} is made for {lora_family_title}, but model {model} is "
                                      f"{model_family}")


def test_a_lora_without_metadata_is_told_apart_by_its_cross_attention_width(tiny_server: Server) -> None:
    response = tiny_server.text2img(model_id="tiny-sdxl", lora_model="tiny-kohya")
    assert response.status_code == 400
    assert "cross-attention layers take 32-wide text features and the model's give 64" in response.json()["message"]
    assert tiny_server.text2img(model_id="tiny-sd", lora_model="tiny-kohya", num_inference_steps=2).status_code == 200


def _lora_file(path: Path, keys: list[str], metadata: dict[str, str] | None = None, width: int = 8) -> Path:
    save_file({key: torch.zeros(4, width) for key in keys}, str(path), metadata=metadata)
    return path


@pytest.mark.parametrize(("keys", "metadata", "expected"), [
    (["lora_unet_x.lora_down.weight"], {"ss_base_model_version": "sdxl_base_v1-0"}, ("sdxl", None)),
    (["lora_unet_x.lora_down.weight"], {"ss_base_model_version": "sd_v2"}, ("sd2", None)),
    (["lora_unet_x.lora_down.weight"], {"modelspec.architecture": "flux-1-dev/lora"}, ("flux", None)),
    (["lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight"], None, ("flux", None)),
    (["diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight"], None, ("flux", None)),
    (["transformer.single_transformer_blocks.0.attn.to_q.lora_A.weight"], None, ("flux", None)),
    (["lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight"], None, ("sdxl", None)),
    (["unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight"], None, (None, 8)),
], ids=["kohya-sdxl-meta", "kohya-sd2-meta", "modelspec-flux", "kohya-flux-keys", "comfy-flux-keys",
        "peft-flux-keys", "kohya-te2-keys", "width-only"])
def test_lora_family_evidence(tmp_path: Path, keys: list[str], metadata: dict[str, str] | None,
                              expected: tuple[str | None, int | None]) -> None:
    assert lora_family(_lora_file(tmp_path / "x.safetensors", keys, metadata)) == expected


def test_a_real_width_names_its_family(tmp_path: Path) -> None:
    path = _lora_file(tmp_path / "w.safetensors", ["lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2"
                                                   "_to_k.lora_down.weight"], width=2048)
    assert lora_family(path) == ("sdxl", 2048)
    with pytest.raises(UnsupportedError, match="is made for SDXL"):
        check_lora_family(path, "w", "m", FAMILIES["sd1"], 768)
    check_lora_family(path, "w", "m", FAMILIES["sdxl"], 2048)


def test_the_tiny_loras_carry_their_family(tiny: TinyModel) -> None:
    for family, loras in TINY_FAMILY_LORAS.items():
        for lora in loras:
            name, _ = lora_family(tiny.loras_dir / f"{lora}.safetensors")
            assert name == family or (lora == "tiny-kohya" and name is None), lora


def test_a_lora_whose_keys_diffusers_skips_is_refused_not_ignored(tiny: TinyModel, tmp_path: Path) -> None:
    """ComfyUI's BFL-layout FLUX keys with lora_A/lora_B: diffusers 0.42 loads nothing from them, silently."""
    from t2i_contract.reference_backend.diffusion import DiffusersGenerator
    from t2i_contract.spec import parse_text2img

    keys = ["diffusion_model.double_blocks.0.img_attn.proj.lora_A.weight"]
    save_file({keys[0]: torch.zeros(4, 32), keys[0].replace("lora_A", "lora_B"): torch.zeros(32, 4)},
              str(tmp_path / "comfy-flux.safetensors"))
    generator = DiffusersGenerator(models_dir=tiny.models_dir, loras_dir=tmp_path, torch_threads=1)
    body = {"key": "k", "model_id": "tiny-flux", "prompt": "p", "width": 256, "height": 256,
            "num_inference_steps": 1, "lora_model": "comfy-flux"}
    with pytest.raises(UnsupportedError) as caught:
        generator.generate(parse_text2img(body), 1)
    assert caught.value.field == "lora_model" and caught.value.value == "comfy-flux"
    assert "none of its keys match a layer of FluxPipeline" in caught.value.message
    generator.close()
