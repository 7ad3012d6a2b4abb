"""Deterministic stand-in images: real PNGs that differ visibly with the request.

Everything about a picture comes from a SHA-256 of the parameters that would change
a real generation (model, prompt, negative prompt, seed, size, steps, guidance,
scheduler, LoRAs, sample index): two background colours and the gradient's
direction, a pattern (stripes, rings, checks or dots) and its scale. The prompt,
seed and sample number are drawn in, so a person looking at a client's screen can
tell which request an image answers. Same inputs, same bytes.

img2img and inpaint start from the request's init image, kept in the job's ``meta``
under :data:`INPUTS_KEY` (base64 of the bytes as the client sent them, never
re-encoded larger), which no answer shows. img2img
posterises and tints it, lays the pattern over it and blends the result with the
original by ``strength`` (0 gives the init image back, 1 the full change), so a
developer sees their own picture, changed. inpaint paints the same over the white
part of ``mask_image`` and keeps every pixel where the mask is black exactly as
the init image has it (a grey mask pixel blends the two by its value).

Rendering a 512x512 picture takes a few milliseconds; :class:`ImageCache` keeps the
most recent ones so that fetching the same URL twice does not render twice.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import textwrap
import threading
from collections import OrderedDict
from typing import Any, Mapping

from PIL import Image, ImageDraw, ImageFont, ImageOps

from t2i_contract.protocol.inputs import inline_data
from t2i_contract.wire.images import decode_checked

__all__ = ["INPUTS_KEY", "ImageCache", "client_meta", "encode_inputs", "image_size", "render_png",
           "render_png_base64"]

INPUTS_KEY = "_inputs"
"""Where a stored job's ``meta`` keeps its decoded input images; :func:`client_meta` drops it."""

# The request fields that change what a real model would draw.
_PICTURE_FIELDS = (
    "model_id", "prompt", "negative_prompt", "seed", "width", "height", "num_inference_steps",
    "guidance_scale", "scheduler", "lora_model", "lora_strength", "clip_skip", "vae",
    "use_karras_sigmas", "algorithm_type", "upscale", "highres_fix", "strength", "init_image", "mask_image",
)
_PATTERNS = ("stripes", "rings", "checks", "dots")
_DRAWN_FROM = ("init_image", "mask_image")
MAX_INLINE = 64 * 1024 * 1024  # a stored value was checked at intake: this only guards the decoding


def image_size(meta: Mapping[str, Any]) -> tuple[int, int]:
    """The output size: width x height, doubled when ``upscale`` is true."""
    factor = 2 if meta.get("upscale") else 1
    return int(meta["width"]) * factor, int(meta["height"]) * factor


def _digest(meta: Mapping[str, Any], index: int) -> bytes:
    picked = {name: meta.get(name) for name in _PICTURE_FIELDS}
    text = json.dumps([picked, index], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).digest()


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ValueError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _draw_pattern(draw: ImageDraw.ImageDraw, size: tuple[int, int], d: bytes, colour: tuple[int, ...]) -> None:
    width, height = size
    kind = _PATTERNS[d[7] % len(_PATTERNS)]
    step = max(8, (width + height) // (6 + d[8] % 18))
    line = max(1, step // (3 + d[9] % 4))
    if kind == "stripes":
        slope = (d[10] % 5) - 2
        for x in range(-height * 2, width + height * 2, step):
            draw.line([(x, 0), (x + slope * height // 2, height)], fill=colour, width=line)
    elif kind == "rings":
        cx, cy = d[10] * width // 255, d[11] * height // 255
        for r in range(step, width + height, step):
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=colour, width=line)
    elif kind == "checks":
        for y in range(0, height, step):
            for x in range((y // step % 2) * step, width, step * 2):
                draw.rectangle([x, y, x + step - 1, y + step - 1], fill=colour)
    else:
        radius = max(2, step // 4)
        for y in range(step // 2, height, step):
            for x in range(step // 2, width, step):
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour)


def _draw_caption(image: Image.Image, meta: Mapping[str, Any], index: int, samples: int) -> None:
    width, height = image.size
    size = max(10, min(width, height) // 24)
    font = _font(size)
    chars = max(12, int(width / (size * 0.6)) - 2)
    lines = textwrap.wrap(str(meta.get("prompt", "")), chars)[:8]
    lines.append(f"seed {meta.get('seed')} - {index + 1}/{samples} - {meta.get('model_id')}")
    box_height = (len(lines) + 1) * int(size * 1.25)
    panel = Image.new("RGBA", (width, box_height), (0, 0, 0, 150))
    image.paste(panel, (0, height - box_height), panel)
    draw = ImageDraw.Draw(image)
    y = height - box_height + size // 2
    for text in lines:
        draw.text((size // 2, y), text, fill=(255, 255, 255), font=font)
        y += int(size * 1.25)


def encode_inputs(inputs: Mapping[str, bytes], meta: Mapping[str, Any]) -> dict[str, str]:
    """The input images a picture starts from that ``meta`` does not already carry, base64, for :data:`INPUTS_KEY`.

    An image sent inline (base64) is in the request ``meta`` echoes, so it is kept once,
    there; one fetched from a URL is kept as fetched. ``ip_adapter_image`` is checked at
    intake but not kept: no placeholder uses it.
    """
    return {name: base64.b64encode(data).decode("ascii") for name, data in inputs.items()
            if name in _DRAWN_FROM and inline_data(str(meta.get(name) or ""), len(data) + 4) is None}


def _input(meta: Mapping[str, Any], name: str) -> Image.Image | None:
    """Input image ``name`` of a stored job: from :data:`INPUTS_KEY`, or the inline value ``meta`` echoes."""
    kept = (meta.get(INPUTS_KEY) or {}).get(name)
    if kept is not None:
        return _decode(kept)
    value = meta.get(name)
    if not isinstance(value, str):
        return None
    data = inline_data(value, MAX_INLINE)
    return None if data is None else decode_checked(data).convert("RGB")


def client_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """``meta`` as answers show it: without the stored input images."""
    return {name: value for name, value in meta.items() if name != INPUTS_KEY}


def _decode(text: str) -> Image.Image:
    return decode_checked(base64.b64decode(text)).convert("RGB")


def _picture(meta: Mapping[str, Any], d: bytes) -> Image.Image:
    size = image_size(meta)
    first, second = (d[0], d[1], d[2]), (d[3], d[4], d[5])
    mask = Image.linear_gradient("L").rotate(d[6] * 360 / 256).resize(size)
    image = Image.composite(Image.new("RGB", size, first), Image.new("RGB", size, second), mask)
    accent = (255 - d[12], 255 - d[13], 255 - d[14])
    _draw_pattern(ImageDraw.Draw(image), size, d, accent)
    return image


def _derived(init: Image.Image, meta: Mapping[str, Any], d: bytes) -> Image.Image:
    """``init`` posterised, tinted and patterned, blended with itself by ``strength``."""
    changed = Image.blend(ImageOps.posterize(init, 2), Image.new("RGB", init.size, (d[0], d[1], d[2])), 0.4)
    _draw_pattern(ImageDraw.Draw(changed), init.size, d, (255 - d[12], 255 - d[13], 255 - d[14]))
    return Image.blend(init, changed, float(meta.get("strength", 0.7)))


def render_png(meta: Mapping[str, Any], index: int) -> bytes:
    """The PNG for sample ``index`` of the request ``meta`` (a request's ``to_meta()``, inputs kept)."""
    d = _digest(meta, index)
    init = _input(meta, "init_image")
    image = _picture(meta, d) if init is None else _derived(init, meta, d)
    _draw_caption(image, meta, index, int(meta.get("samples") or 1))
    mask = _input(meta, "mask_image") if init is not None else None
    if mask is not None:
        image = Image.composite(image, init, mask.convert("L"))
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def render_png_base64(meta: Mapping[str, Any], index: int) -> str:
    return base64.b64encode(render_png(meta, index)).decode("ascii")


class ImageCache:
    """A small LRU of rendered PNGs, bounded in bytes, safe to share between threads."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[int, int], bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, job_id: int, index: int, meta: Mapping[str, Any]) -> bytes:
        key = (job_id, index)
        with self._lock:
            png = self._items.get(key)
            if png is not None:
                self._items.move_to_end(key)
                return png
        png = render_png(meta, index)
        with self._lock:
            if key not in self._items:
                self._items[key] = png
                self._bytes += len(png)
            while self._bytes > self.max_bytes and self._items:
                _, old = self._items.popitem(last=False)
                self._bytes -= len(old)
        return png
