"""Single-file (LDM layout) checkpoints: written from the tiny model, loaded by t2i serve, same pixels."""
from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest

from t2i_contract.reference_backend.single_file import ldm_unet_key, ldm_vae_key

from .support import differ, pixels, serve

if TYPE_CHECKING:
    from pathlib import Path

    from t2i_contract.reference_backend import Generator, TinyModel

    from .support import Server

UNET = {"layers_per_block": 2, "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D",
                                                  "CrossAttnUpBlock2D"]}


@pytest.mark.parametrize(("diffusers", "ldm"), [
    ("conv_in.weight", "input_blocks.0.0.weight"),
    ("time_embedding.linear_2.bias", "time_embed.2.bias"),
    ("down_blocks.0.resnets.1.conv1.weight", "input_blocks.2.0.in_layers.2.weight"),
    ("down_blocks.1.attentions.0.proj_in.weight", "input_blocks.4.1.proj_in.weight"),
    ("down_blocks.2.downsamplers.0.conv.weight", "input_blocks.9.0.op.weight"),
    ("mid_block.resnets.1.time_emb_proj.bias", "middle_block.2.emb_layers.1.bias"),
    ("up_blocks.0.upsamplers.0.conv.weight", "output_blocks.2.1.conv.weight"),
    ("up_blocks.1.upsamplers.0.conv.weight", "output_blocks.5.2.conv.weight"),
    ("up_blocks.3.resnets.2.conv_shortcut.weight", "output_blocks.11.0.skip_connection.weight"),
    ("conv_norm_out.weight", "out.0.weight"),
])
def test_unet_names_follow_the_sd15_layout(diffusers: str, ldm: str) -> None:
    assert ldm_unet_key(diffusers, UNET) == ldm


@pytest.mark.parametrize(("diffusers", "ldm"), [
    ("encoder.down_blocks.1.resnets.0.conv_shortcut.weight", "encoder.down.1.block.0.nin_shortcut.weight"),
    ("decoder.up_blocks.0.resnets.2.norm1.bias", "decoder.up.3.block.2.norm1.bias"),
    ("decoder.up_blocks.2.upsamplers.0.conv.weight", "decoder.up.1.upsample.conv.weight"),
    ("encoder.mid_block.attentions.0.to_out.0.weight", "encoder.mid.attn_1.proj_out.weight"),
    ("decoder.conv_norm_out.bias", "decoder.norm_out.bias"),
    ("post_quant_conv.weight", "post_quant_conv.weight"),
])
def test_vae_names_follow_the_sd15_layout(diffusers: str, ldm: str) -> None:
    assert ldm_vae_key(diffusers, {"block_out_channels": [128, 256, 512, 512]}) == ldm


def test_an_unknown_unet_parameter_is_an_error() -> None:
    with pytest.raises(KeyError, match="no LDM name"):
        ldm_unet_key("mystery.weight", UNET)


def test_a_single_file_model_gives_the_same_images_as_its_folder(tiny_server: Server, tiny: TinyModel) -> None:
    assert (tiny.models_dir / "tiny-sd-single.safetensors").is_file()
    from_folder = pixels(tiny_server, lora_model="tiny-kohya")[0]
    from_file = pixels(tiny_server, model_id=tiny.single_file_id, lora_model="tiny-kohya")[0]
    assert differ(from_file, from_folder) == 0.0


def test_a_single_file_without_its_config_folder_says_what_is_missing(tiny: TinyModel, tmp_path: Path) -> None:
    from t2i_contract.reference_backend.diffusion import DiffusersGenerator

    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(tiny.models_dir / "tiny-sd-single.safetensors", models / "lonely.safetensors")
    generator: Generator = DiffusersGenerator(models_dir=models, torch_threads=1)
    with serve(generator, tmp_path / "data") as server:
        response = server.text2img(model_id="lonely")
    assert response.status_code == 500
    message = response.json()["message"]
    assert message.startswith("Model lonely could not be loaded: ")
    assert "needs its diffusers configs in lonely.config/" in message
