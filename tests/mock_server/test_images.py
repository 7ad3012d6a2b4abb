"""The stand-in images: real PNGs, deterministic, and visibly different when the request differs."""
from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageStat

from t2i_contract.mock_server.images import ImageCache, image_size, render_png

META: dict[str, Any] = {
    "model_id": "f222-diffusion", "prompt": "a lighthouse on a cliff at dawn", "negative_prompt": None,
    "seed": 7, "width": 256, "height": 256, "samples": 2, "num_inference_steps": 20, "guidance_scale": 7.5,
    "scheduler": None, "lora_model": [], "lora_strength": [], "clip_skip": 2, "vae": None,
    "use_karras_sigmas": True, "algorithm_type": "none", "upscale": False, "highres_fix": False,
}


def _open(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image.convert("RGB")


def _difference(a: bytes, b: bytes) -> float:
    """Mean absolute pixel difference, 0-255, over the picture above the caption."""
    first, second = _open(a), _open(b)
    box = (0, 0, first.width, first.height // 2)
    return sum(ImageStat.Stat(ImageChops.difference(first.crop(box), second.crop(box))).mean) / 3


def test_same_request_same_bytes() -> None:
    assert render_png(META, 0) == render_png(dict(META), 0)


@pytest.mark.parametrize(
    "change",
    [{"seed": 8}, {"prompt": "a red bicycle"}, {"model_id": "sd-1.5"}, {"guidance_scale": 3.0},
     {"lora_model": ["a"], "lora_strength": [0.5]}],
    ids=["seed", "prompt", "model", "guidance", "lora"],
)
def test_a_different_request_looks_different(change: dict[str, Any]) -> None:
    assert _difference(render_png(META, 0), render_png(META | change, 0)) > 10


def test_samples_of_one_request_look_different() -> None:
    assert _difference(render_png(META, 0), render_png(META, 1)) > 10


def test_a_broken_comparison_would_notice_identical_images() -> None:
    png = render_png(META, 0)
    assert _difference(png, png) == 0


def test_size_follows_width_height_and_upscale() -> None:
    assert _open(render_png(META | {"width": 320, "height": 256}, 0)).size == (320, 256)
    assert image_size(META | {"upscale": True}) == (512, 512)
    assert _open(render_png(META | {"upscale": True}, 0)).size == (512, 512)


def test_cache_returns_the_rendered_png_and_stays_under_its_byte_limit() -> None:
    one = len(render_png(META, 0))
    cache = ImageCache(max_bytes=int(one * 2.5))
    pngs = [cache.get(job, 0, META | {"seed": job}) for job in range(5)]
    assert pngs[4] == render_png(META | {"seed": 4}, 0)
    assert cache._bytes <= cache.max_bytes
    assert (0, 0) not in cache._items and (4, 0) in cache._items  # the oldest went first
    assert cache.get(4, 0, META | {"seed": 4}) is pngs[4]  # a hit, not a re-render
