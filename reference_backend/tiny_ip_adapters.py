"""Tiny random IP-Adapters, with their image encoders, for the tiny SD 1.5 and SDXL UNets.

Written in the layout ``ip_adapter.py`` reads, under the spec's enum ids::

    DIR/ip-adapters/ip-adapter_sd15/ip-adapter_sd15.safetensors
    DIR/ip-adapters/ip-adapter_sd15/image_encoder/      CLIPVisionModelWithProjection
    DIR/ip-adapters/ip-adapter_sdxl/...

The weights follow the published h94/IP-Adapter files: ``image_proj.proj`` maps the
image embedding to four tokens of the UNet's cross-attention width and
``image_proj.norm`` normalises them; ``ip_adapter.<n>.to_k_ip`` / ``to_v_ip`` add
the image tokens' keys and values to each cross-attention layer, ``n`` counting
1, 3, 5... over the UNet's attention processors in order, as diffusers expects.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["IMAGE_EMBED", "make_tiny_ip_adapter"]

IMAGE_EMBED = 32
TOKENS = 4
WEIGHT_SCALE = 0.5


def _image_encoder(seed: int) -> Any:
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    return CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=32, projection_dim=IMAGE_EMBED, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=37, image_size=32, patch_size=8,
    ))


def _hidden_size(unet_config: dict[str, Any], name: str) -> int:
    channels = unet_config["block_out_channels"]
    if name.startswith("mid_block"):
        return channels[-1]
    block = int(name.split(".")[1])
    return list(reversed(channels))[block] if name.startswith("up_blocks") else channels[block]


def make_tiny_ip_adapter(unet: Any, folder: Path, seed: int) -> Path:
    """Write ``folder/<folder name>.safetensors`` and ``folder/image_encoder/`` for ``unet``."""
    import torch
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(seed)
    width = unet.config.cross_attention_dim
    tensors: dict[str, Any] = {
        "image_proj.proj.weight": torch.randn(width * TOKENS, IMAGE_EMBED, generator=generator) * WEIGHT_SCALE,
        "image_proj.proj.bias": torch.zeros(width * TOKENS),
        "image_proj.norm.weight": torch.ones(width),
        "image_proj.norm.bias": torch.zeros(width),
    }
    key_id = 1
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        hidden = _hidden_size(dict(unet.config), name)
        for part in ("to_k_ip", "to_v_ip"):
            tensors[f"ip_adapter.{key_id}.{part}.weight"] = (
                torch.randn(hidden, width, generator=generator) * WEIGHT_SCALE)
        key_id += 2
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / f"{folder.name}.safetensors"))
    _image_encoder(seed + 1).save_pretrained(str(folder / "image_encoder"), safe_serialization=True)
    return folder
