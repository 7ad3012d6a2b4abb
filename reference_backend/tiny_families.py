"""Tiny random-weight SDXL and FLUX.1 models, and LoRAs for them in the formats people publish.

``make_tiny_model`` (``tiny.py``) calls these beside the SD 1.5 model. Shapes follow
diffusers' own fast tests (tests/pipelines/stable_diffusion_xl, tests/pipelines/flux),
except that every VAE has four blocks, so its scale factor is 8 as in the real models.

- **SDXL**: two CLIP text encoders (the second with a projection, whose pooled
  output and the six size numbers feed the UNet's ``text_time`` embedding), a UNet
  whose cross-attention width is the two encoders' widths side by side (64 here,
  2048 in SDXL 1.0), and ``force_zeros_for_empty_prompt`` as SDXL 1.0 ships it.
- **FLUX.1**: a ``FluxTransformer2DModel`` with one double and one single block,
  CLIP for the pooled vector and T5 for the sequence. The T5 tokenizer is a Unigram
  model over printable characters built with the ``tokenizers`` library (no
  sentencepiece, nothing downloaded). ``dev`` has the distilled guidance input
  (``guidance_embeds``) and a dynamically shifted flow-matching schedule;
  ``schnell`` has neither, as the real checkpoints.

LoRAs carry ``modelspec.architecture`` in their safetensors metadata, as kohya's
sd-scripts and ai-toolkit write it, and use the key layouts those trainers publish:

- SDXL: diffusers/peft (``unet.``, ``text_encoder.``, ``text_encoder_2.`` with
  ``lora_A``/``lora_B``) and kohya (``lora_unet_``/``lora_te1_``/``lora_te2_`` with
  ``lora_down``/``lora_up``/``alpha``);
- FLUX: diffusers/peft as ai-toolkit saves it (``transformer.``), kohya sd-scripts
  (``lora_unet_double_blocks_0_img_attn_qkv``: the fused BFL layers), and XLabs
  (``double_blocks.0.processor.qkv_lora1.down.weight``); diffusers'
  ``load_lora_weights`` converts the last two on load.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .tiny import (_TEXT_LINEARS, LORA_RANK, TINY_FAMILY_LORAS, _kohya_lora, _lora_pair, _peft_lora, _vae,
                   _write_tokenizer)

__all__ = ["ARCHITECTURES", "make_tiny_flux", "make_tiny_sdxl", "write_lora"]

ARCHITECTURES = {"sd1": "stable-diffusion-v1/lora", "sdxl": "stable-diffusion-xl-v1-base/lora",
                 "flux": "flux-1-dev/lora"}
"""``modelspec.architecture`` values, as sd-scripts writes them, per family."""

CLIP_HIDDEN = 32
SDXL_TIME_EMBED = 8
FLUX_JOINT = 32
T5_MAX_LENGTH = 32
TEXT_GAIN = 6.0


def write_lora(tensors: dict[str, Any], target: Path, family: str) -> Path:
    """Save a LoRA with the metadata trainers put in it (the family's architecture)."""
    from safetensors.torch import save_file

    target.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"modelspec.architecture": ARCHITECTURES[family], "format": "pt"}
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(target), metadata=metadata)
    return target


def _clip_config(tokenizer: Any, layers: int) -> Any:
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        hidden_size=CLIP_HIDDEN, intermediate_size=37, layer_norm_eps=1e-05, num_attention_heads=4,
        num_hidden_layers=layers, vocab_size=len(tokenizer), max_position_embeddings=77, projection_dim=CLIP_HIDDEN,
    )


def make_tiny_sdxl(folder: Path, loras_dir: Path, seed: int) -> Any:
    """Write a tiny SDXL folder and its LoRAs (peft with both text encoders; kohya; peft UNet-only); return its UNet."""
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    for name in ("tokenizer", "tokenizer_2"):
        _write_tokenizer(folder / name)
    tokenizer = CLIPTokenizer.from_pretrained(str(folder / "tokenizer"))
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32, 32), layers_per_block=1, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        transformer_layers_per_block=(1, 1, 2), attention_head_dim=4, use_linear_projection=True,
        addition_embed_type="text_time", addition_time_embed_dim=SDXL_TIME_EMBED,
        projection_class_embeddings_input_dim=6 * SDXL_TIME_EMBED + CLIP_HIDDEN,
        cross_attention_dim=2 * CLIP_HIDDEN, norm_num_groups=8,
    )
    torch.manual_seed(seed + 1)
    text_encoder = CLIPTextModel(_clip_config(tokenizer, 8))
    torch.manual_seed(seed + 2)
    text_encoder_2 = CLIPTextModelWithProjection(_clip_config(tokenizer, 8))
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       steps_offset=1, timestep_spacing="leading")
    pipe = StableDiffusionXLPipeline(
        unet=unet, vae=_vae(seed + 3), text_encoder=text_encoder, text_encoder_2=text_encoder_2,
        tokenizer=tokenizer, tokenizer_2=CLIPTokenizer.from_pretrained(str(folder / "tokenizer_2")),
        scheduler=scheduler, force_zeros_for_empty_prompt=True,
    )
    pipe.save_pretrained(str(folder), safe_serialization=True)

    style = _peft_lora(unet, text_encoder, seed + 20, 0.5)
    style |= {k.replace("text_encoder.", "text_encoder_2.", 1): v
              for k, v in _peft_lora(unet, text_encoder_2, seed + 21, 0.5).items() if k.startswith("text_encoder.")}
    write_lora(style, loras_dir / f"{TINY_FAMILY_LORAS['sdxl'][0]}.safetensors", "sdxl")
    kohya = _kohya_lora(unet, seed + 22, 0.5)
    generator = torch.Generator().manual_seed(seed + 23)
    for name, module in text_encoder_2.named_modules():
        if isinstance(module, torch.nn.Linear) and name.endswith(_TEXT_LINEARS):
            key = "lora_te2_" + name.replace(".", "_")
            down, up = _lora_pair(module.out_features, module.in_features, 0.5, generator)
            kohya |= {f"{key}.lora_down.weight": down, f"{key}.lora_up.weight": up,
                      f"{key}.alpha": torch.tensor(float(LORA_RANK))}
    write_lora(kohya, loras_dir / f"{TINY_FAMILY_LORAS['sdxl'][1]}.safetensors", "sdxl")
    write_lora(_peft_lora(unet, None, seed + 24, 0.5), loras_dir / f"{TINY_FAMILY_LORAS['sdxl'][2]}.safetensors",
               "sdxl")
    return unet


def _t5_tokenizer(folder: Path) -> Any:
    """A T5 tokenizer over printable characters (Unigram, built here), saved to ``folder``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import T5TokenizerFast

    chars = [chr(c) for c in range(32, 127)]
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    pieces += [(c, -3.0) for c in chars] + [("▁" + c, -2.5) for c in chars]
    model = Tokenizer(models.Unigram(pieces, unk_id=2))
    model.pre_tokenizer = pre_tokenizers.Metaspace()
    model.decoder = decoders.Metaspace()
    model.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    tokenizer = T5TokenizerFast(tokenizer_object=model, eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
                                extra_ids=0, model_max_length=T5_MAX_LENGTH)
    tokenizer.save_pretrained(str(folder))
    return tokenizer


def make_tiny_flux(folder: Path, loras_dir: Path | None, seed: int, *, schnell: bool = False) -> None:
    """Write a tiny FLUX.1 folder (dev shape, or schnell's); with ``loras_dir``, its three LoRAs."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextModel, CLIPTokenizer, T5Config, T5EncoderModel

    _write_tokenizer(folder / "tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(str(folder / "tokenizer"))
    tokenizer_2 = _t5_tokenizer(folder / "tokenizer_2")
    torch.manual_seed(seed)
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=FLUX_JOINT, pooled_projection_dim=CLIP_HIDDEN,
        axes_dims_rope=[4, 4, 8], guidance_embeds=not schnell,
    )
    with torch.no_grad():  # random init lets the text barely steer; stronger text paths make prompts visible
        transformer.context_embedder.weight.mul_(TEXT_GAIN)
        transformer.time_text_embed.text_embedder.linear_1.weight.mul_(TEXT_GAIN)
    torch.manual_seed(seed + 1)
    text_encoder = CLIPTextModel(_clip_config(tokenizer, 4))
    torch.manual_seed(seed + 2)
    text_encoder_2 = T5EncoderModel(T5Config(
        d_model=FLUX_JOINT, d_ff=37, d_kv=8, num_heads=4, num_layers=2, vocab_size=len(tokenizer_2),
        pad_token_id=tokenizer_2.pad_token_id, eos_token_id=tokenizer_2.eos_token_id, decoder_start_token_id=0,
        relative_attention_num_buckets=8, is_encoder_decoder=False, use_cache=False,
    ))
    vae = _vae(seed + 3)
    vae.register_to_config(shift_factor=0.0609, scaling_factor=1.5035)
    if schnell:
        scheduler = FlowMatchEulerDiscreteScheduler(shift=1.0, use_dynamic_shifting=False)
    else:
        scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True, base_shift=0.5,
                                                    max_shift=1.15, base_image_seq_len=256, max_image_seq_len=4096)
    pipe = FluxPipeline(scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                        text_encoder_2=text_encoder_2, tokenizer_2=tokenizer_2, transformer=transformer)
    pipe.save_pretrained(str(folder), safe_serialization=True)
    if loras_dir is not None:
        _flux_loras(transformer, loras_dir, seed + 30)


def _flux_loras(transformer: Any, loras_dir: Path, seed: int) -> None:
    import torch

    peft_id, kohya_id, xlabs_id = TINY_FAMILY_LORAS["flux"]
    generator = torch.Generator().manual_seed(seed)
    dim = transformer.config.num_attention_heads * transformer.config.attention_head_dim
    peft: dict[str, Any] = {}
    for name, module in transformer.named_modules():
        if isinstance(module, torch.nn.Linear) and name.endswith(("to_q", "to_k", "to_v", "to_out.0", "proj_out")):
            down, up = _lora_pair(module.out_features, module.in_features, 0.5, generator)
            peft |= {f"transformer.{name}.lora_A.weight": down, f"transformer.{name}.lora_B.weight": up}
    write_lora(peft, loras_dir / f"{peft_id}.safetensors", "flux")

    kohya: dict[str, Any] = {}
    layers = {"double_blocks_0_img_attn_qkv": (3 * dim, dim), "double_blocks_0_img_attn_proj": (dim, dim),
              "double_blocks_0_txt_attn_qkv": (3 * dim, dim),
              "single_blocks_0_linear2": (dim, dim + transformer.single_transformer_blocks[0].mlp_hidden_dim)}
    for layer, (out_features, in_features) in layers.items():
        down, up = _lora_pair(out_features, in_features, 0.5, generator)
        key = f"lora_unet_{layer}"
        kohya |= {f"{key}.lora_down.weight": down, f"{key}.lora_up.weight": up,
                  f"{key}.alpha": torch.tensor(float(LORA_RANK))}
    write_lora(kohya, loras_dir / f"{kohya_id}.safetensors", "flux")

    xlabs: dict[str, Any] = {}
    for part, out_features in (("qkv_lora1", 3 * dim), ("proj_lora1", dim), ("qkv_lora2", 3 * dim)):
        down, up = _lora_pair(out_features, dim, 0.5, generator)
        xlabs |= {f"double_blocks.0.processor.{part}.down.weight": down,
                  f"double_blocks.0.processor.{part}.up.weight": up}
    write_lora(xlabs, loras_dir / f"{xlabs_id}.safetensors", "flux")
