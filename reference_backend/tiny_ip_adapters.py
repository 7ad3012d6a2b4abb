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

The "plus" ids (``ip-adapter-plus_*``, ``ip-adapter-plus-face_*``) get the Resampler
of the published plus files instead: ``image_proj.latents``, ``proj_in``,
``proj_out``, ``norm_out`` and four ``layers.<i>`` of perceiver attention
(``0.norm1``, ``0.norm2``, ``0.to_q``, ``0.to_kv``, ``0.to_out``) and feed-forward
(``1.0``, ``1.1``, ``1.3``), which read the image encoder's penultimate hidden
states. They are made by building diffusers' ``IPAdapterPlusImageProjection`` and
renaming its weights back to that layout (the inverse of diffusers' conversion).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["IMAGE_EMBED", "make_tiny_ip_adapter"]

IMAGE_EMBED = 32
TOKENS = 4
WEIGHT_SCALE = 0.5
PLUS_HIDDEN = 64  # diffusers reads the Resampler's head count as to_q rows // 64
PLUS_QUERIES = 8
_PLUS_NAMES = (("ln0", "0.norm1"), ("ln1", "0.norm2"), ("attn.to_q", "0.to_q"), ("attn.to_out.0", "0.to_out"),
               ("ff.0", "1.0"), ("ff.1.net.0.proj", "1.1"), ("ff.1.net.2", "1.3"))


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


def _plus_image_proj(width: int, seed: int) -> dict[str, Any]:
    """A Resampler in the published plus layout, from diffusers' module with random weights."""
    import torch
    from diffusers.models.embeddings import IPAdapterPlusImageProjection

    torch.manual_seed(seed)
    module = IPAdapterPlusImageProjection(embed_dims=_image_encoder(0).config.hidden_size, output_dims=width,
                                          hidden_dims=PLUS_HIDDEN, heads=1, num_queries=PLUS_QUERIES)
    tensors: dict[str, Any] = {}
    pending_kv: dict[str, Any] = {}
    for key, value in module.state_dict().items():
        head, _, rest = key.partition(".")
        if head != "layers":
            tensors[f"image_proj.{key}"] = value
            continue
        index, _, name = rest.partition(".")
        if name.startswith(("attn.to_k.", "attn.to_v.")):
            pending_kv[f"{index}.{name[5:9]}"] = value
            continue
        for new, old in _PLUS_NAMES:
            if name.startswith(new + "."):
                name = old + name[len(new):]
                break
        tensors[f"image_proj.layers.{index}.{name}"] = value
    for index in range(len(module.layers)):
        tensors[f"image_proj.layers.{index}.0.to_kv.weight"] = torch.cat(
            [pending_kv[f"{index}.to_k"], pending_kv[f"{index}.to_v"]])
    return tensors


def make_tiny_ip_adapter(unet: Any, folder: Path, seed: int) -> Path:
    """Write ``folder/<folder name>.safetensors`` and ``folder/image_encoder/`` for ``unet``."""
    import torch
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(seed)
    width = unet.config.cross_attention_dim
    if "-plus" in folder.name:
        tensors = _plus_image_proj(width, seed)
    else:
        tensors = {
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
