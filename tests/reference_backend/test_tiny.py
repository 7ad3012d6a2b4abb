"""The tiny model: a real diffusers folder, and LoRAs that are not no-ops, in both key formats."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from safetensors.torch import load_file

if TYPE_CHECKING:
    from t2i_contract.reference_backend import TinyModel


def test_model_folder_is_a_diffusers_pipeline_with_its_tokenizer(tiny: TinyModel) -> None:
    folder = tiny.models_dir / tiny.model_id
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    assert (folder / "tokenizer" / "vocab.json").is_file() and (folder / "tokenizer" / "merges.txt").is_file()
    assert json.loads((folder / "tokenizer" / "tokenizer_config.json").read_text())["model_max_length"] == 77
    assert (tiny.vaes_dir / tiny.vae_id / "config.json").is_file()


def test_loras_have_nonzero_up_matrices(tiny: TinyModel) -> None:
    for lora_id in tiny.lora_ids:
        tensors = load_file(str(tiny.loras_dir / f"{lora_id}.safetensors"))
        ups = [t for k, t in tensors.items() if k.endswith(("lora_B.weight", "lora_up.weight"))]
        assert ups, lora_id
        assert all(float(t.abs().max()) > 0 for t in ups), lora_id


def test_one_lora_uses_kohya_keys_and_the_others_peft_keys(tiny: TinyModel) -> None:
    formats = {}
    for lora_id in tiny.lora_ids:
        keys = load_file(str(tiny.loras_dir / f"{lora_id}.safetensors")).keys()
        if all(k.startswith("lora_unet_") for k in keys):
            formats[lora_id] = "kohya"
            assert any(k.endswith(".alpha") for k in keys)
        elif all(k.startswith(("unet.", "text_encoder.")) and ".lora_" in k for k in keys):
            formats[lora_id] = "peft"
    assert formats == {"tiny-style": "peft", "tiny-detail": "peft", "tiny-kohya": "kohya"}
    style_keys = load_file(str(tiny.loras_dir / "tiny-style.safetensors")).keys()
    assert any(k.startswith("text_encoder.") for k in style_keys), "one LoRA also adapts the text encoder"


def test_the_model_is_small(tiny: TinyModel) -> None:
    size = sum(p.stat().st_size for p in tiny.root.rglob("*") if p.is_file())
    assert size < 16 * 1024 * 1024  # every family, nine LoRAs and five IP-Adapters: about 12 MiB


def test_every_family_is_written_with_its_locally_built_tokenizers(tiny: TinyModel) -> None:
    from transformers import AutoTokenizer

    from t2i_contract.reference_backend.tiny import TINY_FAMILY_MODELS

    expected = {"sd1": "StableDiffusionPipeline", "sdxl": "StableDiffusionXLPipeline", "flux": "FluxPipeline",
                "flux-schnell": "FluxPipeline"}
    for family, model in TINY_FAMILY_MODELS.items():
        index = json.loads((tiny.models_dir / model / "model_index.json").read_text())
        assert index["_class_name"] == expected[family], model
    t5 = AutoTokenizer.from_pretrained(str(tiny.models_dir / "tiny-flux" / "tokenizer_2"), local_files_only=True)
    one, other = t5("a red lighthouse").input_ids, t5("a blue boat").input_ids
    assert one != other and one[-1] == t5.eos_token_id
    assert (tiny.models_dir / "tiny-sdxl" / "tokenizer_2" / "vocab.json").is_file()


def test_ip_adapters_come_with_their_image_encoders(tiny: TinyModel) -> None:
    from t2i_contract.reference_backend.tiny import tiny_ip_adapters

    adapters = tiny_ip_adapters()
    assert set(adapters) == {"sd1", "sdxl"} and sum(map(len, adapters.values())) == 5
    for adapter in (a for ids in adapters.values() for a in ids):
        folder = tiny.ip_adapters_dir / adapter
        keys = load_file(str(folder / f"{adapter}.safetensors")).keys()
        projection = "image_proj.latents" if "-plus" in adapter else "image_proj.proj.weight"
        assert {projection, "ip_adapter.1.to_k_ip.weight"} <= set(keys), adapter
        assert json.loads((folder / "image_encoder" / "config.json").read_text())["architectures"] == [
            "CLIPVisionModelWithProjection"]
