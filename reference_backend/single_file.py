"""Write a diffusers Stable Diffusion folder as one single-file checkpoint in the original (LDM) layout.

The web UIs and model sites share SD models as one ``.safetensors`` file whose keys
follow the original CompVis code (``model.diffusion_model.input_blocks.1.0...``,
``first_stage_model.encoder.down.0.block.0...``,
``cond_stage_model.transformer.text_model...``). ``t2i serve`` loads such files
with diffusers' ``from_single_file``; this module writes one from a diffusers
folder, so that path can be tested offline with the tiny model (``t2i
make-tiny-model`` writes ``tiny-sd-single.safetensors``). It also writes the
``<id>.config/`` folder that diffusers needs beside a single file to avoid a
download: the folder's configs and tokenizer, without weights.

The mapping is the inverse of diffusers' ``convert_ldm_unet_checkpoint``,
``convert_ldm_vae_checkpoint`` and ``convert_ldm_clip_checkpoint``; the tests
load the written file back with diffusers and compare every tensor.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

__all__ = ["ldm_unet_key", "ldm_vae_key", "write_single_file"]

_UNET_FIXED = {"conv_in": "input_blocks.0.0", "time_embedding.linear_1": "time_embed.0",
               "time_embedding.linear_2": "time_embed.2", "conv_norm_out": "out.0", "conv_out": "out.2"}
_UNET_RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1",
                "norm2": "out_layers.0", "conv2": "out_layers.3", "conv_shortcut": "skip_connection"}
_VAE_RESNET = {"conv_shortcut": "nin_shortcut"}
_VAE_ATTENTION = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def _rename_head(rest: str, table: dict[str, str]) -> str:
    head, _, tail = rest.partition(".")
    return f"{table.get(head, head)}.{tail}"


def ldm_unet_key(key: str, config: dict[str, Any]) -> str:
    """The LDM name of a diffusers UNet2DConditionModel parameter."""
    per_level = config["layers_per_block"]
    for source, target in _UNET_FIXED.items():
        if key.startswith(source + "."):
            return target + key[len(source):]
    if match := re.fullmatch(r"down_blocks\.(\d+)\.(resnets|attentions|downsamplers)\.(\d+)\.(.*)", key):
        level, kind, index, rest = int(match[1]), match[2], int(match[3]), match[4]
        if kind == "downsamplers":
            return f"input_blocks.{1 + level * (per_level + 1) + per_level}.0.op.{rest.removeprefix('conv.')}"
        block = 1 + level * (per_level + 1) + index
        if kind == "resnets":
            return f"input_blocks.{block}.0.{_rename_head(rest, _UNET_RESNET)}"
        return f"input_blocks.{block}.1.{rest}"
    if match := re.fullmatch(r"mid_block\.(resnets|attentions)\.(\d+)\.(.*)", key):
        kind, index, rest = match[1], int(match[2]), match[3]
        if kind == "resnets":
            return f"middle_block.{2 * index}.{_rename_head(rest, _UNET_RESNET)}"
        return f"middle_block.1.{rest}"
    if match := re.fullmatch(r"up_blocks\.(\d+)\.(resnets|attentions|upsamplers)\.(\d+)\.(.*)", key):
        level, kind, index, rest = int(match[1]), match[2], int(match[3]), match[4]
        if kind == "upsamplers":
            position = 2 if "CrossAttn" in config["up_block_types"][level] else 1
            return f"output_blocks.{level * (per_level + 1) + per_level}.{position}.{rest}"
        block = level * (per_level + 1) + index
        if kind == "resnets":
            return f"output_blocks.{block}.0.{_rename_head(rest, _UNET_RESNET)}"
        return f"output_blocks.{block}.1.{rest}"
    raise KeyError(f"no LDM name for UNet parameter {key}")


def ldm_vae_key(key: str, config: dict[str, Any]) -> str:
    """The LDM name of a diffusers AutoencoderKL parameter."""
    levels = len(config["block_out_channels"])
    pattern = r"(encoder|decoder)\.(down_blocks|up_blocks)\.(\d+)\.(resnets|downsamplers|upsamplers)\.(\d+)\.(.*)"
    if match := re.fullmatch(pattern, key):
        part, blocks, level, kind, index, rest = match[1], match[2], int(match[3]), match[4], int(match[5]), match[6]
        if blocks == "up_blocks":
            level = levels - 1 - level  # the original decoder counts its levels from the bottom
            prefix = f"{part}.up.{level}"
        else:
            prefix = f"{part}.down.{level}"
        if kind == "resnets":
            return f"{prefix}.block.{index}.{_rename_head(rest, _VAE_RESNET)}"
        return f"{prefix}.{'downsample' if kind == 'downsamplers' else 'upsample'}.{rest}"
    if match := re.fullmatch(r"(encoder|decoder)\.mid_block\.(resnets|attentions)\.(\d+)\.(.*)", key):
        part, kind, index, rest = match[1], match[2], int(match[3]), match[4]
        if kind == "resnets":
            return f"{part}.mid.block_{index + 1}.{_rename_head(rest, _VAE_RESNET)}"
        for source, target in _VAE_ATTENTION.items():
            if rest.startswith(source + "."):
                return f"{part}.mid.attn_1.{target}{rest[len(source):]}"
    if match := re.fullmatch(r"(encoder|decoder)\.conv_norm_out\.(.*)", key):
        return f"{match[1]}.norm_out.{match[2]}"
    return key  # conv_in, conv_out, quant_conv and post_quant_conv keep their names


def write_single_file(folder: Path, target: Path) -> Path:
    """Write ``folder`` (a diffusers SD folder) to ``target`` (.safetensors) and ``<target stem>.config/``."""
    from safetensors.torch import load_file, save_file

    tensors: dict[str, Any] = {}
    unet_config = json.loads((folder / "unet" / "config.json").read_text())
    for key, value in load_file(str(folder / "unet" / "diffusion_pytorch_model.safetensors")).items():
        tensors["model.diffusion_model." + ldm_unet_key(key, unet_config)] = value
    vae_config = json.loads((folder / "vae" / "config.json").read_text())
    for key, value in load_file(str(folder / "vae" / "diffusion_pytorch_model.safetensors")).items():
        name = ldm_vae_key(key, vae_config)
        if ".mid.attn_1." in name and name.endswith(".weight") and value.ndim == 2:
            value = value[:, :, None, None]  # the original attention uses 1x1 convolutions
        tensors["first_stage_model." + name] = value
    for key, value in load_file(str(folder / "text_encoder" / "model.safetensors")).items():
        name = key if key.startswith("text_model.") else "text_model." + key
        tensors["cond_stage_model.transformer." + name] = value
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(target))

    config_dir = target.with_suffix(".config")
    shutil.copytree(folder, config_dir, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    return target
