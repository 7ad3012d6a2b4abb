"""Write tiny random-weight models of every family, LoRAs for each, VAEs and IP-Adapters.

``t2i make-tiny-model DIR`` calls :func:`make_tiny_model`. The result is laid out
the way ``t2i serve`` expects its folders::

    DIR/models/tiny-sd/        SD 1.5 shape: unet, vae, text_encoder, tokenizer, scheduler
    DIR/models/tiny-sd-single.safetensors  the same weights as one LDM-layout file, with
    DIR/models/tiny-sd-single.config/      the configs diffusers needs to load it offline
    DIR/models/tiny-sd-inpaint/  an SD 1.5 inpainting checkpoint: the same parts, its UNet taking 9
                               channels (latents, mask, masked-image latents)
    DIR/models/tiny-sdxl/      SDXL shape (two text encoders, size conditioning)
    DIR/models/tiny-flux/      FLUX.1-dev shape (CLIP + T5, distilled guidance)
    DIR/models/tiny-flux-schnell/  FLUX.1-schnell shape (no guidance input)
    DIR/loras/tiny-style.safetensors     SD, diffusers/peft keys (UNet + text encoder)
    DIR/loras/tiny-detail.safetensors    SD, diffusers/peft keys (UNet only)
    DIR/loras/tiny-kohya.safetensors     SD, kohya/A1111 keys (``lora_unet_*``, with alpha), no metadata
    DIR/loras/tiny-sdxl-*.safetensors    SDXL: peft (both text encoders), kohya (``lora_te2_``), peft (UNet)
    DIR/loras/tiny-flux-*.safetensors    FLUX: peft (ai-toolkit), kohya, XLabs
    DIR/vaes/tiny-vae/         a second random VAE, for the request's ``vae`` field
    DIR/ip-adapters/<id>/      a tiny IP-Adapter with its image encoder for every id of the
                               spec's IpAdapterId enum (SD 1.5 and SDXL, plain and plus)

SD shapes follow diffusers' own fast tests (small UNet, VAE and CLIP text model), except
that the VAE has four blocks so its scale factor is 8 as in real SD models (a 256x256
image is a 32x32 latent) and the UNet attends only at its lowest resolution: a step
costs a few milliseconds on a CPU, and a 512x512 image with 20 steps under a second. The CLIP tokenizer is
built from a ``vocab.json`` holding every byte-level symbol (with and without the
``</w>`` end-of-word mark) and an empty ``merges.txt``: every prompt tokenizes to
characters, so different prompts give different embeddings. SDXL and FLUX are built
in ``tiny_families.py``, the IP-Adapters in ``tiny_ip_adapters.py``. Nothing is downloaded.

The LoRA up-matrices are random, not zero (a zero up-matrix has no effect), and
scaled so that each adapter visibly changes the image.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

__all__ = ["TINY_FAMILY_LORAS", "TINY_FAMILY_MODELS", "TINY_INPAINT_MODEL_ID", "TINY_LORAS", "TINY_MODEL_ID",
           "TINY_SINGLE_FILE_ID", "TINY_STEPS", "TINY_VAE_ID", "TinyModel", "make_tiny_model", "tiny_ip_adapters"]

TINY_MODEL_ID = "tiny-sd"
TINY_SINGLE_FILE_ID = "tiny-sd-single"
TINY_INPAINT_MODEL_ID = "tiny-sd-inpaint"
TINY_VAE_ID = "tiny-vae"
TINY_LORAS = ("tiny-style", "tiny-detail", "tiny-kohya")
TINY_FAMILY_MODELS = {"sd1": "tiny-sd", "sdxl": "tiny-sdxl", "flux": "tiny-flux", "flux-schnell": "tiny-flux-schnell"}
TINY_FAMILY_LORAS = {"sd1": TINY_LORAS, "sdxl": ("tiny-sdxl-style", "tiny-sdxl-kohya", "tiny-sdxl-detail"),
                     "flux": ("tiny-flux-peft", "tiny-flux-kohya", "tiny-flux-xlabs")}

TEXT_HIDDEN = 32
LORA_RANK = 4
_ATTENTION_LINEARS = ("to_q", "to_k", "to_v", "to_out.0")
_TEXT_LINEARS = ("q_proj", "k_proj", "v_proj", "out_proj")


@dataclass(frozen=True, slots=True)
class TinyModel:
    """Where :func:`make_tiny_model` wrote everything, and the ids to use."""

    root: Path
    model_id: str = TINY_MODEL_ID
    single_file_id: str = TINY_SINGLE_FILE_ID
    inpaint_model_id: str = TINY_INPAINT_MODEL_ID
    vae_id: str = TINY_VAE_ID
    lora_ids: tuple[str, ...] = TINY_LORAS

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def loras_dir(self) -> Path:
        return self.root / "loras"

    @property
    def vaes_dir(self) -> Path:
        return self.root / "vaes"

    @property
    def ip_adapters_dir(self) -> Path:
        return self.root / "ip-adapters"


def _bytes_to_unicode() -> dict[int, str]:
    """The byte -> printable character table of GPT-2/CLIP byte-level BPE."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def _write_tokenizer(folder: Path) -> int:
    """Write vocab.json, merges.txt and tokenizer_config.json; return the vocabulary size."""
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    symbols = list(_bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: index for index, token in enumerate(tokens)}
    vocab_file, merges_file = folder / "vocab.json", folder / "merges.txt"
    vocab_file.write_text(json.dumps(vocab), encoding="utf-8")
    merges_file.write_text("#version: 0.2\n", encoding="utf-8")
    tokenizer = CLIPTokenizer(str(vocab_file), str(merges_file), model_max_length=77)
    tokenizer.save_pretrained(str(folder))
    return len(vocab)


def _unet_config() -> dict[str, Any]:
    return dict(
        block_out_channels=(16, 32, 32), layers_per_block=1, sample_size=32, in_channels=4, out_channels=4,
        # Attention only at the lowest resolution: at 512x512 the first level has 4096
        # tokens, and self-attention there would cost 30x the rest of the UNet.
        down_block_types=("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        cross_attention_dim=TEXT_HIDDEN, attention_head_dim=4, norm_num_groups=8,
    )


def _vae(seed: int) -> Any:
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(
        block_out_channels=(8, 8, 8, 8), in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=1, norm_num_groups=4, sample_size=64,
    )


def _lora_pair(out_features: int, in_features: int, scale: float, generator: Any) -> tuple[Any, Any]:
    import torch

    down = torch.randn(LORA_RANK, in_features, generator=generator) * scale
    up = torch.randn(out_features, LORA_RANK, generator=generator) * scale
    return down.contiguous(), up.contiguous()


def _linears(module: Any, suffixes: tuple[str, ...]) -> list[tuple[str, Any]]:
    import torch

    return [(name, m) for name, m in module.named_modules()
            if isinstance(m, torch.nn.Linear) and name.endswith(suffixes)]


def _peft_lora(unet: Any, text_encoder: Any | None, seed: int, scale: float) -> dict[str, Any]:
    """A LoRA in diffusers' peft key format: ``unet.<module>.lora_A.weight`` / ``lora_B``."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    tensors: dict[str, Any] = {}
    parts = [("unet", unet, _ATTENTION_LINEARS)]
    if text_encoder is not None:
        parts.append(("text_encoder", text_encoder, _TEXT_LINEARS))
    for prefix, module, suffixes in parts:
        for name, linear in _linears(module, suffixes):
            down, up = _lora_pair(linear.out_features, linear.in_features, scale, generator)
            tensors[f"{prefix}.{name}.lora_A.weight"] = down
            tensors[f"{prefix}.{name}.lora_B.weight"] = up
    return tensors


def _kohya_lora(unet: Any, seed: int, scale: float) -> dict[str, Any]:
    """A LoRA in kohya/A1111 key format: ``lora_unet_<module_with_underscores>.lora_down.weight``."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    tensors: dict[str, Any] = {}
    for name, linear in _linears(unet, _ATTENTION_LINEARS):
        key = "lora_unet_" + name.replace(".", "_")
        down, up = _lora_pair(linear.out_features, linear.in_features, scale, generator)
        tensors[f"{key}.lora_down.weight"] = down
        tensors[f"{key}.lora_up.weight"] = up
        tensors[f"{key}.alpha"] = torch.tensor(float(LORA_RANK))
    return tensors


def tiny_ip_adapters() -> dict[str, tuple[str, ...]]:
    """The spec's ``IpAdapterId`` enum by family: the tiny set has an adapter for every id."""
    from t2i_contract.spec import load_spec

    from .ip_adapter import adapter_family

    groups: dict[str, tuple[str, ...]] = {}
    for adapter_id in load_spec().schema("IpAdapterId")["enum"]:
        family = adapter_family(adapter_id) or "unknown"
        groups[family] = groups.get(family, ()) + (adapter_id,)
    return groups


TINY_STEPS = ("SD 1.5 model", "SD 1.5 single file", "inpainting model and VAE", "SD 1.5 LoRAs and IP-Adapters",
              "SDXL model, LoRAs and IP-Adapters", "FLUX.1 model and LoRAs", "FLUX.1 schnell model")
"""What :func:`make_tiny_model` tells its ``step`` callback, in order (``t2i make-tiny-model``'s progress)."""


def make_tiny_model(root: Path | str, seed: int = 0, step: Callable[[str], None] | None = None) -> TinyModel:
    """Write the tiny models of every family, VAE, LoRAs and IP-Adapters under ``root``; ``step`` is told each
    of :data:`TINY_STEPS` as it starts."""
    tell = step or (lambda what: None)
    import torch
    from diffusers import DDIMScheduler, StableDiffusionInpaintPipeline, StableDiffusionPipeline, UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from .single_file import write_single_file
    from .tiny_families import make_tiny_flux, make_tiny_sdxl, write_lora
    from .tiny_ip_adapters import make_tiny_ip_adapter

    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # "Writing model shards" bars, one per saved model
    tiny = TinyModel(Path(root))
    tell(TINY_STEPS[0])
    model_dir = tiny.models_dir / tiny.model_id
    vocab_size = _write_tokenizer(model_dir / "tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(str(model_dir / "tokenizer"))

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**_unet_config())
    torch.manual_seed(seed + 1)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        hidden_size=TEXT_HIDDEN, intermediate_size=37, layer_norm_eps=1e-05, num_attention_heads=4,
        num_hidden_layers=8, vocab_size=vocab_size, max_position_embeddings=77, projection_dim=TEXT_HIDDEN,
    ))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(
        unet=unet, vae=_vae(seed + 2), text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.save_pretrained(str(model_dir), safe_serialization=True)
    tell(TINY_STEPS[1])
    write_single_file(model_dir, tiny.models_dir / f"{tiny.single_file_id}.safetensors")
    tell(TINY_STEPS[2])
    torch.manual_seed(seed + 4)
    StableDiffusionInpaintPipeline(
        unet=UNet2DConditionModel(**{**_unet_config(), "in_channels": 9}), vae=pipe.vae, text_encoder=text_encoder,
        tokenizer=tokenizer, scheduler=scheduler, safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    ).save_pretrained(str(tiny.models_dir / tiny.inpaint_model_id), safe_serialization=True)
    _vae(seed + 3).save_pretrained(str(tiny.vaes_dir / tiny.vae_id), safe_serialization=True)

    tell(TINY_STEPS[3])
    tiny.loras_dir.mkdir(parents=True, exist_ok=True)
    style, detail, kohya = tiny.lora_ids
    write_lora(_peft_lora(unet, text_encoder, seed + 10, 0.5), tiny.loras_dir / f"{style}.safetensors", "sd1")
    write_lora(_peft_lora(unet, None, seed + 11, 0.5), tiny.loras_dir / f"{detail}.safetensors", "sd1")
    # no metadata: its family is told by the width of its cross-attention keys
    save_file(_kohya_lora(unet, seed + 12, 0.5), str(tiny.loras_dir / f"{kohya}.safetensors"))
    adapters = tiny_ip_adapters()
    for offset, adapter_id in enumerate(adapters["sd1"]):
        make_tiny_ip_adapter(unet, tiny.ip_adapters_dir / adapter_id, seed + 13 + offset)

    tell(TINY_STEPS[4])
    sdxl_unet = make_tiny_sdxl(tiny.models_dir / TINY_FAMILY_MODELS["sdxl"], tiny.loras_dir, seed + 100)
    for offset, adapter_id in enumerate(adapters["sdxl"]):
        make_tiny_ip_adapter(sdxl_unet, tiny.ip_adapters_dir / adapter_id, seed + 113 + offset)
    tell(TINY_STEPS[5])
    make_tiny_flux(tiny.models_dir / TINY_FAMILY_MODELS["flux"], tiny.loras_dir, seed + 200)
    tell(TINY_STEPS[6])
    make_tiny_flux(tiny.models_dir / TINY_FAMILY_MODELS["flux-schnell"], None, seed + 300, schnell=True)
    return tiny
