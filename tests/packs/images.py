"""Real PNGs for the pack tests: a picture with a transparent hole, and masks in both forms."""
from __future__ import annotations

import base64
import io

from PIL import Image

SIZE = (128, 128)
HOLE = (32, 32, 96, 96)  # left, top, right, bottom: the part an edit repaints


def png(image: Image.Image) -> bytes:
    data = io.BytesIO()
    image.save(data, format="PNG")
    return data.getvalue()


def picture(colour: tuple[int, int, int] = (200, 40, 40)) -> Image.Image:
    """A two-colour picture: ``colour`` with a green band, so a changed pixel is easy to see."""
    image = Image.new("RGB", SIZE, colour)
    image.paste((20, 160, 60), (0, 100, SIZE[0], SIZE[1]))
    return image


def with_hole(image: Image.Image) -> Image.Image:
    """``image`` with :data:`HOLE` fully transparent (an OpenAI edit without a mask repaints it)."""
    holed = image.convert("RGBA")
    holed.paste((0, 0, 0, 0), HOLE)
    return holed


def alpha_mask() -> Image.Image:
    """OpenAI's mask form: transparent where the image is to be repainted."""
    mask = Image.new("RGBA", SIZE, (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), HOLE)
    return mask


def white_mask() -> Image.Image:
    """v6's and AUTOMATIC1111's mask form: white where the image is to be repainted."""
    mask = Image.new("RGB", SIZE, (0, 0, 0))
    mask.paste((255, 255, 255), HOLE)
    return mask


def decode(text: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(text)))


def outside_hole_kept(before: Image.Image, after: Image.Image) -> bool:
    """Is every pixel away from the hole's edge the same in both (the part a mask keeps)?"""
    before, after = before.convert("RGB"), after.convert("RGB")
    left, top, right, bottom = HOLE
    margin = 8  # blending at the mask's edge is the server's to choose
    for x in range(0, SIZE[0], 4):
        for y in range(0, SIZE[1], 4):
            near = left - margin <= x < right + margin and top - margin <= y < bottom + margin
            if not near and before.getpixel((x, y)) != after.getpixel((x, y)):
                return False
    return True
