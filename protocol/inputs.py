"""Input images (``init_image``, ``mask_image``, ``ip_adapter_image``): from a URL or base64 to a checked image.

:func:`load_input` is the one place both servers turn such a field into an
:class:`InputImage`: the bytes as sent and the image they decode to
(:func:`load_input_images` does a request's fields at once). The value is one of:

* an ``http(s)://`` URL (any case), fetched by :func:`.outbound.fetch` under the
  server's :class:`~.urls.UrlPolicy`, with a byte cap and a total deadline;
* a ``data:image/png;base64,...`` (or ``image/jpeg``) data URI;
* plain base64 (standard or URL-safe alphabet, padding optional, line breaks allowed).

Anything else that looks like ``scheme:...`` is a URL with a refused scheme. What the
bytes may be (formats, sides, bytes, JPEG scans) is the field's ``x-t2i-image`` in the
spec, and the wire decodes them within those bounds (``wire/images.py``): the size
and the scans are checked before any pixel is decoded. Every failure is an error
naming the field (a 400).
"""
from __future__ import annotations

import base64
import binascii
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Mapping

from PIL import Image

from t2i_contract.spec.errors import show_value
from t2i_contract.spec.facts import InputImageLimits
from t2i_contract.wire.images import NotAnImage, decode_input_image

from .outbound import Gate, Monotonic, fetch
from .outbound_errors import BadBase64, MaskSizeMismatch, TooLarge, UrlRefused
from .urls import UrlPolicy

__all__ = ["InputImage", "check_mask_size", "inline_data", "is_fetched", "load_input", "load_input_image", "load_input_images"]

_DATA_URI = re.compile(r"data:([^,;]*)((?:;[^,;]*)*),", re.IGNORECASE)
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:")
_BASE64_CHARS = re.compile(r"[A-Za-z0-9+/\-_]*={0,2}")
_LINE_BREAKS = str.maketrans("", "", " \t\r\n")


@dataclass(frozen=True)
class InputImage:
    """One input image: ``data``, the bytes as the client sent them (fetched or decoded base64), and ``image``."""

    data: bytes
    image: Image.Image


def load_input(value: object, *, field: str, policy: UrlPolicy, limits: InputImageLimits,
               deadline: float | None = None, clock: Monotonic = time.monotonic,
               gate: Gate | None = None) -> InputImage:
    """The image ``value`` names (URL) or carries (base64), checked against ``limits``; errors name ``field``."""
    if not isinstance(value, str) or not value.strip():
        raise NotAnImage(field, value, f"{field} must be an http(s) URL or a base64 PNG/JPEG, got {show_value(value)}")
    text = value.strip()
    lowered = text[:8].lower()
    max_bytes = limits.max_bytes
    if lowered.startswith(("http://", "https://")):
        data = fetch(text, policy=policy, deadline=deadline, max_bytes=max_bytes, field=field, clock=clock,
                     gate=gate).body
    elif lowered.startswith("data:"):
        data = _data_uri(text, field, max_bytes)
    elif _SCHEME.match(text):
        scheme = text.split(":", 1)[0]
        raise UrlRefused(field, value, f"{field} {show_value(value)} is refused: only http:// and https:// URLs "
                         f"(or base64 data) can be used, not {scheme}")
    else:
        data = _base64(text, field, max_bytes, value)
    return InputImage(data, decode_input_image(data, field=field, value=value, limits=limits))


def is_fetched(value: object) -> bool:
    """Whether an input-image value is a URL the server fetches (not inline base64)."""
    return isinstance(value, str) and value.strip()[:8].lower().startswith(("http://", "https://"))


def inline_data(value: str, max_bytes: int) -> bytes | None:
    """The bytes an inline value (base64 or a data URI) carries, or None for a URL; errors as :func:`load_input`.

    For a value already accepted at intake: a server that keeps the request may keep the
    image once, in the request, and read it back with this.
    """
    text = value.strip()
    if is_fetched(text):
        return None
    if text[:5].lower() == "data:":
        return _data_uri(text, "image", max_bytes)
    return _base64(text, "image", max_bytes, value)


def load_input_image(value: object, *, field: str, policy: UrlPolicy, limits: InputImageLimits,
                     deadline: float | None = None, clock: Monotonic = time.monotonic) -> Image.Image:
    """:func:`load_input`'s image alone."""
    return load_input(value, field=field, policy=policy, limits=limits, deadline=deadline, clock=clock).image


def load_input_images(values: Mapping[str, object], *, policy: UrlPolicy, limits: Mapping[str, InputImageLimits],
                      deadline: float | None = None, mask: tuple[str, str] | None = None,
                      gate: Gate | None = None) -> dict[str, InputImage]:
    """Every non-null value of ``values`` ({field: URL or base64}) loaded at once, in parallel.

    ``limits`` holds each field's limits (``spec.input_image_limits``). Each field gets
    the same deadline and they run side by side, so three slow URLs cost one
    deadline, not three. ``mask=(mask_field, image_field)`` checks that those two
    have the same size. When several fields fail, the error of the first field in
    ``values``' order is raised.
    """
    wanted = {name: value for name, value in values.items() if value is not None}
    if not wanted:
        return {}
    with ThreadPoolExecutor(max_workers=len(wanted), thread_name_prefix="t2i-input") as pool:
        futures = {name: pool.submit(load_input, value, field=name, policy=policy, limits=limits[name],
                                     deadline=deadline, gate=gate) for name, value in wanted.items()}
        loaded = {name: future.result() for name, future in futures.items()}
    if mask is not None and mask[0] in loaded and mask[1] in loaded:
        check_mask_size(loaded[mask[1]].image, loaded[mask[0]].image, field=mask[0], image_field=mask[1],
                        value=wanted[mask[0]])
    return loaded


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
