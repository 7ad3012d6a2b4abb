#!/usr/bin/env python3
"""Images/s of ``t2i serve`` against a bare diffusers pipeline call, on a GPU, in one run.

The model is an SD1.5-shaped pipeline with random weights (UNet 320/640/1280/1280,
CLIP ViT-L-sized text encoder, SD VAE), or with ``--shape sdxl`` an SDXL-shaped one
(UNet 320/640/1280 with 1/2/10 transformer layers and cross-attention 2048, CLIP-L and
OpenCLIP-bigG-sized text encoders), built locally: nothing is downloaded. Both
sides make 512x512 images (use ``--size 1024`` for SDXL's own size) with 20 steps in float16:

- **bare**: ``pipe(prompt, ...)`` in this process, one image per call;
- **server**: the reference backend app (same process, its own pipeline), driven
  over real HTTP on localhost, one request at a time, images fetched as base64 so
  PNG encoding is counted.

Target: server overhead at most 5% (server images/s >= 0.95x bare). Rounds alternate
the two sides; medians are compared.

Without CUDA the script prints that it was skipped and exits 0. ``--device cpu
--shape tiny`` runs the same code on the tiny model, to check the script itself:

    .venv/bin/python benchmarks/bench_backend_gpu.py [--images 8] [--rounds 3]
    .venv/bin/python benchmarks/bench_backend_gpu.py --shape sdxl --size 1024
    .venv/bin/python benchmarks/bench_backend_gpu.py --device cpu --shape tiny --size 256 --steps 4
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_sd15_shaped_model(root: Path, dtype: str) -> Path:
    """An SD1.5-shaped StableDiffusionPipeline with random weights, saved as a diffusers folder."""
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from t2i_contract.reference_backend.tiny import _write_tokenizer

    folder = root / "models" / "sd15-random"
    _write_tokenizer(folder / "tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(str(folder / "tokenizer"))
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=64, in_channels=4, out_channels=4, layers_per_block=2, cross_attention_dim=768,
        block_out_channels=(320, 640, 1280, 1280), attention_head_dim=8,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
    )
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, sample_size=512,
        block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
    )
    text_encoder = CLIPTextModel(CLIPTextConfig(
        hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
        vocab_size=49408, max_position_embeddings=77, projection_dim=768, hidden_act="quick_gelu",
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    ))
    scheduler = PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              skip_prk_steps=True, steps_offset=1)
    pipe = StableDiffusionPipeline(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.to(getattr(torch, dtype)).save_pretrained(str(folder), safe_serialization=True)
    return folder


def make_sdxl_shaped_model(root: Path, dtype: str) -> Path:
    """An SDXL-shaped StableDiffusionXLPipeline with random weights, saved as a diffusers folder."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    from t2i_contract.reference_backend.tiny import _write_tokenizer

    folder = root / "models" / "sdxl-random"
    for name in ("tokenizer", "tokenizer_2"):
        _write_tokenizer(folder / name)
    tokenizer = CLIPTokenizer.from_pretrained(str(folder / "tokenizer"))
    special = dict(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                   pad_token_id=tokenizer.pad_token_id, vocab_size=49408, max_position_embeddings=77)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=128, in_channels=4, out_channels=4, layers_per_block=2, cross_attention_dim=2048,
        block_out_channels=(320, 640, 1280), attention_head_dim=(5, 10, 20), use_linear_projection=True,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        transformer_layers_per_block=(1, 2, 10), addition_embed_type="text_time", addition_time_embed_dim=256,
        projection_class_embeddings_input_dim=2816,
    )
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, sample_size=1024,
        block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, scaling_factor=0.13025,
    )
    text_encoder = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_attention_heads=12,
                                                num_hidden_layers=12, projection_dim=768, hidden_act="quick_gelu",
                                                **special))
    text_encoder_2 = CLIPTextModelWithProjection(CLIPTextConfig(
        hidden_size=1280, intermediate_size=5120, num_attention_heads=20, num_hidden_layers=32, projection_dim=1280,
        hidden_act="gelu", **special))
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       steps_offset=1, timestep_spacing="leading")
    pipe = StableDiffusionXLPipeline(unet=unet, vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2,
                                     tokenizer=tokenizer, tokenizer_2=CLIPTokenizer.from_pretrained(
                                         str(folder / "tokenizer_2")), scheduler=scheduler)
    pipe.to(getattr(torch, dtype)).save_pretrained(str(folder), safe_serialization=True)
    return folder


def bare_rate(pipe, images: int, size: int, steps: int) -> float:
    import torch

    start = time.perf_counter()
    for index in range(images):
        pipe("a lighthouse at dusk", width=size, height=size, num_inference_steps=steps,
             generator=torch.Generator("cpu").manual_seed(index))
    if pipe.device.type == "cuda":
        torch.cuda.synchronize()
    return images / (time.perf_counter() - start)


def server_rate(url: str, model_id: str, images: int, size: int, steps: int) -> float:
    import requests

    start = time.perf_counter()
    for index in range(images):
        body = requests.post(f"{url}/api/v6/images/text2img", timeout=600, json={
            "key": "bench", "model_id": model_id, "prompt": "a lighthouse at dusk", "width": size, "height": size,
            "num_inference_steps": steps, "seed": index, "base64": True, "enhance_prompt": False,
        }).json()
        if body.get("status") != "success":
            raise SystemExit(f"server answered {body}")
    return images / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--shape", choices=("sd15", "sdxl", "tiny", "tiny-sdxl"), default="sd15")
    parser.add_argument("--dtype", default=None, help="default: float16 on cuda, float32 on cpu")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--images", type=int, default=8, help="images per side per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("bench_backend_gpu: skipped, no CUDA device here (torch.cuda.is_available() is False); "
              "run it on a GPU machine, or with --device cpu --shape tiny to check the script")
        return
    dtype = args.dtype or ("float16" if args.device.startswith("cuda") else "float32")
    from diffusers import DiffusionPipeline

    from t2i_contract.reference_backend import BackendConfig, create_app
    from t2i_contract.reference_backend.app import EXTENSION
    from t2i_contract.reference_backend.tiny import make_tiny_model
    from tests.support import ServerThread

    root = Path(tempfile.mkdtemp(prefix="bench-gpu-"))
    if args.shape.startswith("tiny"):
        folder = make_tiny_model(root).models_dir / ("tiny-sdxl" if args.shape == "tiny-sdxl" else "tiny-sd")
    elif args.shape == "sdxl":
        folder = make_sdxl_shaped_model(root, dtype)
    else:
        folder = make_sd15_shaped_model(root, dtype)
    # the family's own pipeline class, read from model_index.json, as the server does
    pipe = DiffusionPipeline.from_pretrained(str(folder), local_files_only=True).to(args.device, getattr(torch, dtype))
    pipe.set_progress_bar_config(disable=True)
    config = BackendConfig(models_dir=folder.parent, device=args.device, dtype=dtype, sync_timeout=600.0,
                           data_dir=root / "data")
    app = create_app(config)
    bare_rate(pipe, 1, args.size, args.steps)  # warm-up: kernels, allocator
    rates: dict[str, list[float]] = {"bare": [], "server": []}
    with ServerThread(app) as server:
        server_rate(server.url, folder.name, 1, args.size, args.steps)  # warm-up: loads the pipeline
        for round_index in range(args.rounds):
            sides = ["bare", "server"] if round_index % 2 == 0 else ["server", "bare"]
            for side in sides:
                if side == "bare":
                    rates[side].append(bare_rate(pipe, args.images, args.size, args.steps))
                else:
                    rates[side].append(server_rate(server.url, folder.name, args.images, args.size, args.steps))
    app.extensions[EXTENSION].stop()
    bare, served = statistics.median(rates["bare"]), statistics.median(rates["server"])
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(f"{args.shape} model, {args.size}x{args.size}, {args.steps} steps, {dtype} on {name}, "
          f"{args.rounds} rounds x {args.images} images per side")
    print(f"  bare diffusers pipeline  {bare:8.3f} images/s")
    print(f"  t2i serve over HTTP      {served:8.3f} images/s")
    overhead = 1 - served / bare
    print(f"server / bare = {served / bare:.3f}, overhead {overhead * 100:.1f}% "
          f"(target <= 5%: {'met' if overhead <= 0.05 else 'NOT met'})")


if __name__ == "__main__":
    main()
