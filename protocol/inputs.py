"""Input images (``init_image``, ``mask_image``, ``ip_adapter_image``): from a URL or base64 to a checked image.

:func:`load_input_image` is the one place both servers turn such a field into a
:class:`PIL.Image.Image` (:func:`load_input_images` does a request's fields at once). The value is one of:

* an ``http(s)://`` URL (any case), fetched by :func:`.outbound.fetch` under the
  server's :class:`~.urls.UrlPolicy`, with a byte cap and a total deadline;
* a ``data:image/png;base64,...`` (or ``image/jpeg``) data URI;
* plain base64 (standard or URL-safe alphabet, padding optional, line breaks allowed).

Anything else that looks like ``scheme:...`` is a URL with a refused scheme. The
bytes must really be a PNG or a JPEG (by their signature, then by decoding), with
each side within ``[MIN_SIDE, MAX_SIDE]`` and at most ``MAX_PIXELS`` pixels, checked
from the header before any pixel is decoded, so a decompression bomb is refused
before it costs memory. JPEG orientation (EXIF) is applied, as diffusers'
``load_image`` does. The result is RGB, or RGBA when the image has transparency.
Every failure is its own :class:`~.outbound_errors.OutboundError` naming the field.
"""
from __future__ import annotations

import base64
import binascii
import io
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Mapping

from PIL import Image, ImageOps

from t2i_contract.spec.errors import show_value

from .outbound import Monotonic, fetch
from .outbound_errors import BadBase64, BadDimensions, MaskSizeMismatch, NotAnImage, TooLarge, UrlRefused
from .urls import UrlPolicy

__all__ = [
    "DEFAULT_INPUT_BYTES",
    "MAX_PIXELS",
    "MAX_SIDE",
    "MIN_SIDE",
    "check_mask_size",
    "decode_image",
    "load_input_image",
    "load_input_images",
]

DEFAULT_INPUT_BYTES = 16 * 1024 * 1024
"""The largest input image accepted, fetched or inline (a noisy 2048x2048 PNG is about 12 MiB)."""
MIN_SIDE = 8
MAX_SIDE = 4096
MAX_PIXELS = 4096 * 4096
_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG"}
_DATA_URI = re.compile(r"data:([^,;]*)((?:;[^,;]*)*),", re.IGNORECASE)
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:")
_BASE64_CHARS = re.compile(r"[A-Za-z0-9+/\-_]*={0,2}")
_LINE_BREAKS = str.maketrans("", "", " \t\r\n")


def load_input_image(value: object, *, field: str, policy: UrlPolicy, max_bytes: int = DEFAULT_INPUT_BYTES,
                     deadline: float | None = None, clock: Monotonic = time.monotonic) -> Image.Image:
    """The image ``value`` names (URL) or carries (base64), checked; raises an error naming ``field``."""
    if not isinstance(value, str) or not value.strip():
        raise NotAnImage(field, value, f"{field} must be an http(s) URL or a base64 PNG/JPEG, got {show_value(value)}")
    text = value.strip()
    lowered = text[:8].lower()
    if lowered.startswith(("http://", "https://")):
        data = fetch(text, policy=policy, deadline=deadline, max_bytes=max_bytes, field=field, clock=clock).body
    elif lowered.startswith("data:"):
        data = _data_uri(text, field, max_bytes)
    elif _SCHEME.match(text):
        scheme = text.split(":", 1)[0]
        raise UrlRefused(field, value, f"{field} {show_value(value)} is refused: only http:// and https:// URLs "
                         f"(or base64 data) can be used, not {scheme}")
    else:
        data = _base64(text, field, max_bytes, value)
    return decode_image(data, field=field, value=value)


def load_input_images(values: Mapping[str, object], *, policy: UrlPolicy, max_bytes: int = DEFAULT_INPUT_BYTES,
                      deadline: float | None = None, mask: tuple[str, str] | None = None) -> dict[str, Image.Image]:
    """Every non-null value of ``values`` ({field: URL or base64}) loaded at once, in parallel.

    Each field gets the same deadline and they run side by side, so three slow URLs
    cost one deadline, not three.
    ``mask=(mask_field, image_field)`` checks that those two have the same size. When
    several fields fail, the error of the first field in ``values``' order is raised.
    """
    wanted = {name: value for name, value in values.items() if value is not None}
    if not wanted:
        return {}
    with ThreadPoolExecutor(max_workers=len(wanted), thread_name_prefix="t2i-input") as pool:
        futures = {name: pool.submit(load_input_image, value, field=name, policy=policy, max_bytes=max_bytes,
                                     deadline=deadline) for name, value in wanted.items()}
        images = {name: future.result() for name, future in futures.items()}
    if mask is not None and mask[0] in images and mask[1] in images:
        check_mask_size(images[mask[1]], images[mask[0]], field=mask[0], image_field=mask[1], value=wanted[mask[0]])
    return images


def decode_image(data: bytes, *, field: str, value: object) -> Image.Image:
    """``data`` as an RGB/RGBA image if it is a PNG or JPEG of sane dimensions; ``value`` is what the client sent."""
    kind = next((name for sig, name in _SIGNATURES.items() if data.startswith(sig)), None)
    if kind is None:
        raise NotAnImage(field, value, f"{field} {show_value(value)} is not a PNG or JPEG image "
                         f"(it starts with {data[:8]!r})")
    broken = f"{field} {show_value(value)} is a broken {kind}"
    size = _header_size(data, kind)  # before Pillow sees it: no decompression-bomb warning, no pixel decoded
    if size is None:
        raise NotAnImage(field, value, f"{broken}: its header has no image size")
    _check_size(size, field, value)
    try:
        image = Image.open(io.BytesIO(data), formats=[kind])
        _check_size(image.size, field, value)
        image.load()
        image = ImageOps.exif_transpose(image) or image
        has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        return image.convert("RGBA" if has_alpha else "RGB")
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise NotAnImage(field, value, f"{broken}: {exc}") from None


def _check_size(size: tuple[int, int], field: str, value: object) -> None:
    width, height = size
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE) or width * height > MAX_PIXELS:
        raise BadDimensions(field, value, f"{field} {show_value(value)} is {width}x{height}; each side must be "
                            f"{MIN_SIDE} to {MAX_SIDE} pixels and the whole at most {MAX_PIXELS} pixels")


def _header_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR or a JPEG's first SOF marker, without decoding anything."""
    if kind == "PNG":
        if len(data) < 24 or data[12:16] != b"IHDR":
            return None
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker in _STANDALONE:
            i += 2
        elif 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start-of-frame
            return int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big")
        else:
            i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return None


_STANDALONE = frozenset({0x01, 0xD8, *range(0xD0, 0xD8)})


def check_mask_size(image: Image.Image, mask: Image.Image, *, field: str = "mask_image",
                    image_field: str = "init_image", value: object = None) -> None:
    """Raise :class:`MaskSizeMismatch` naming ``field`` unless ``mask`` has ``image``'s size."""
    if mask.size != image.size:
        raise MaskSizeMismatch(field, value, f"{field} is {mask.size[0]}x{mask.size[1]} but {image_field} is "
                               f"{image.size[0]}x{image.size[1]}; the mask must have the image's size")


def _data_uri(text: str, field: str, max_bytes: int) -> bytes:
    match = _DATA_URI.match(text)
    if match is None:
        raise BadBase64(field, text, f"{field} {show_value(text)} is not a data URI (data:image/png;base64,...)")
    media, params = match.group(1).strip().lower(), match.group(2).lower()
    if "base64" not in [p.strip() for p in params.split(";")]:
        raise BadBase64(field, text, f"{field} {show_value(text)} is a data URI without ;base64")
    if media not in ("image/png", "image/jpeg", "image/jpg", ""):
        raise NotAnImage(field, text, f"{field} {show_value(text)} declares {media}; only image/png and "
                         "image/jpeg are accepted")
    return _base64(text[match.end():], field, max_bytes, text)


def _base64(text: str, field: str, max_bytes: int, value: str) -> bytes:
    compact = text.translate(_LINE_BREAKS)
    if len(compact) // 4 * 3 > max_bytes + 3:
        raise TooLarge(field, value, f"{field} is about {len(compact) // 4 * 3} bytes of base64 data, "
                       f"over the limit of {max_bytes} bytes")
    if not compact or not _BASE64_CHARS.fullmatch(compact):
        raise BadBase64(field, value, f"{field} {show_value(value)} is neither an http(s) URL nor valid base64")
    if "-" in compact or "_" in compact:
        compact = compact.replace("-", "+").replace("_", "/")
    compact += "=" * (-len(compact) % 4)
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadBase64(field, value, f"{field} {show_value(value)} is not valid base64: {exc}") from None
    if len(data) > max_bytes:
        raise TooLarge(field, value, f"{field} is {len(data)} bytes, over the limit of {max_bytes} bytes")
    return data
