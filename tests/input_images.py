"""Input images for the img2img and inpaint tests of every server: a small photo, masks, base64 PNGs."""
from __future__ import annotations

import base64
import io

from PIL import Image, ImageDraw


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def png_base64(image: Image.Image) -> str:
    return base64.b64encode(png_bytes(image)).decode("ascii")


def photo(size: tuple[int, int] = (96, 64), colour: tuple[int, int, int] = (30, 140, 200)) -> Image.Image:
    """A flat colour with a yellow ellipse: enough structure to see an image survive."""
    image = Image.new("RGB", size, colour)
    ImageDraw.Draw(image).ellipse([8, 8, size[0] - 8, size[1] - 8], fill=(240, 200, 40))
    return image


def half_mask(size: tuple[int, int], right: bool = True) -> Image.Image:
    """White (repaint) on the right half, or the left one; black elsewhere."""
    mask = Image.new("L", size, 0)
    left = size[0] // 2 if right else 0
    ImageDraw.Draw(mask).rectangle([left, 0, left + size[0] // 2 - 1, size[1] - 1], fill=255)
    return mask
