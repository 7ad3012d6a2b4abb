"""Turn a success answer's ``output`` items into decoded images.

An item is an image URL, or a base64 PNG (optionally as a ``data:`` URL) when the
request set ``base64``. :func:`load_outputs` returns one :class:`LoadedImage` per
item with either the decoded size, a pixel fingerprint and the RGBA pixels (for
``inpaint_preserves``), or why it failed.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PIL import Image

if TYPE_CHECKING:
    from .client import Client

__all__ = ["LoadedImage", "decode_image", "load_outputs"]

_MAX_PIXELS = 4096 * 4096
MAX_IMAGES = 8


@dataclass(frozen=True)
class LoadedImage:
    index: int
    source: str
    size: tuple[int, int] | None = None
    fingerprint: str = ""
    problem: str = ""
    rgba: bytes = field(default=b"", repr=False, compare=False)


def decode_image(data: bytes) -> tuple[tuple[int, int], str, bytes]:
    """(width, height), a SHA-256 of the RGBA pixels and the pixels; raises ValueError if not an image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > _MAX_PIXELS:
                    raise ValueError(f"image of {image.width}x{image.height} is implausibly large")
                image.load()
                pixels = image.convert("RGBA").tobytes()
                return image.size, hashlib.sha256(pixels).hexdigest(), pixels
    except (OSError, Image.DecompressionBombError, SyntaxError) as exc:
        raise ValueError(f"not a decodable image ({exc})") from None


def _short(item: str) -> str:
    return item if len(item) <= 80 else item[:77] + "..."


def _load_one(client: Client, index: int, item: Any, as_base64: bool) -> LoadedImage:
    if not isinstance(item, str):
        return LoadedImage(index, repr(item)[:80], problem=f"output[{index}] is not a string")
    if item.startswith(("http://", "https://")):
        if as_base64:
            return LoadedImage(index, _short(item), problem=f"output[{index}] is a URL although base64 was true")
        status, data, error = client.get_bytes(item)
        if status != 200:
            return LoadedImage(index, item, problem=f"output[{index}] {item} answered "
                                                     + (f"HTTP {status}" if status else error))
    elif as_base64:
        encoded = item.split(",", 1)[1] if item.startswith("data:") else item
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return LoadedImage(index, _short(item), problem=f"output[{index}] is not valid base64")
    else:
        return LoadedImage(index, _short(item), problem=f"output[{index}] is not an http(s) URL: {_short(item)!r}")
    try:
        size, fingerprint, pixels = decode_image(data)
    except ValueError as exc:
        return LoadedImage(index, _short(item), problem=f"output[{index}] is {exc}")
    return LoadedImage(index, _short(item), size, fingerprint, rgba=pixels)


def load_outputs(client: Client, output: Any, *, as_base64: bool) -> list[LoadedImage]:
    """Decode the items of ``output`` (at most :data:`MAX_IMAGES`; the count is sample_count's business)."""
    items = output[:MAX_IMAGES] if isinstance(output, list) else []
    return [_load_one(client, i, item, as_base64) for i, item in enumerate(items)]
