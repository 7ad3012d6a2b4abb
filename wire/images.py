"""Input images on the wire: the bytes of ``init_image``, ``mask_image`` or ``ip_adapter_image`` to a checked image.

Servers (through ``protocol/inputs.py``, which fetches URLs and reads base64) and any
client that wants to know what a server will accept use :func:`decode_input_image`
with the field's :class:`~t2i_contract.spec.facts.InputImageLimits`, read from the
spec's ``x-t2i-image`` extension (``spec.input_image_limits(operation, field)``);
no limit is typed here.

Every check that bounds the work runs on the bytes before Pillow sees them, so a
hostile image costs microseconds to refuse:

1. the signature must be one of the field's formats (PNG, JPEG);
2. the size is read from the header (PNG ``IHDR``, the JPEG's first start-of-frame)
   and each side must be within ``min-side``..``max-side``;
3. a JPEG's scans are counted by walking its markers (skipping entropy-coded data
   without decoding it) and at most ``max-scans`` are accepted: libjpeg makes a pass
   over the whole coefficient buffer for every scan, so a 2048x2048 progressive JPEG
   whose 33-byte scan is repeated 30,000 times would take minutes of CPU.

The work of a decode is then at most ``max-scans`` passes over ``max-side``²
pixels. Only then is the image decoded, its EXIF orientation applied (as diffusers'
``load_image`` does) and converted to RGB, or RGBA when it has transparency. A
failure is an :class:`ImageRefused` naming the field, in words of our own: never a
Python repr, an address in memory or a path.
"""
from __future__ import annotations

import io
import re
import warnings
from typing import Any, Callable

from PIL import Image, ImageOps, UnidentifiedImageError

from t2i_contract.spec import Problem, RequestError
from t2i_contract.spec.errors import show_value
from t2i_contract.spec.facts import InputImageLimits

__all__ = ["BadDimensions", "ImageRefused", "NotAnImage", "TooManyScans", "decode_checked", "decode_input_image",
           "image_format",
           "image_header", "jpeg_scans", "shown"]

_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg"}
_PILLOW_FORMATS = {"png": "PNG", "jpeg": "JPEG"}
_MAX_VALUE_CHARS = 200
_STANDALONE = frozenset({0x01, 0xD8, *range(0xD0, 0xD8)})
# The end of entropy-coded data: 0xFF followed by anything but a stuffed 0x00, a restart marker or fill.
_MARKER_AFTER_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def shown(value: Any) -> Any:
    """The offending value as echoed back: long strings (base64 images) are cut, with an ellipsis."""
    if isinstance(value, str) and len(value) > _MAX_VALUE_CHARS:
        return value[: _MAX_VALUE_CHARS - 1] + "…"
    return value


class ImageRefused(RequestError):
    """Input-image bytes a server does not accept; one problem naming the field (a 400 in the error shape)."""

    code = "image"

    def __init__(self, field: str, value: Any, message: str) -> None:
        self.value = shown(value)
        super().__init__([Problem(field, self.code, message, self.value)])


class NotAnImage(ImageRefused):
    """Not a PNG or JPEG (by signature), or a broken one."""

    code = "not_image"


class BadDimensions(ImageRefused):
    """A side outside the field's ``min-side``..``max-side``, read from the header."""

    code = "dimensions"


class TooManyScans(ImageRefused):
    """A JPEG with more scans than ``max-scans``: refused before decoding, whatever its size."""

    code = "scans"


def image_format(data: bytes) -> str | None:
    """``"png"`` or ``"jpeg"`` by the signature, or None."""
    return next((name for sig, name in _SIGNATURES.items() if data.startswith(sig)), None)


def image_header(data: bytes, kind: str) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR or a JPEG's first start-of-frame, without decoding anything."""
    if kind == "png":
        if len(data) < 24 or data[12:16] != b"IHDR":
            return None
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    for marker, start, _ in _jpeg_segments(data):
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and start + 7 <= len(data):
            return int.from_bytes(data[start + 5:start + 7], "big"), int.from_bytes(data[start + 3:start + 5], "big")
    return None


def jpeg_scans(data: bytes, stop_after: int | None = None) -> int:
    """How many scans (start-of-scan segments) a JPEG has, counting stops past ``stop_after``."""
    scans = 0
    for marker, _, _ in _jpeg_segments(data):
        if marker == 0xDA:
            scans += 1
            if stop_after is not None and scans > stop_after:
                break
    return scans


def _jpeg_segments(data: bytes) -> Any:
    """(marker, start of its length field, end) for each segment, walking over entropy-coded data."""
    i, size = 2, len(data)
    while i + 4 <= size:
        if data[i] != 0xFF:
            return
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9:  # end of image
            return
        if marker in _STANDALONE:
            i += 2
            continue
        start = i + 2
        end = start + int.from_bytes(data[start:start + 2], "big")
        yield marker, start, end
        i = end
        if marker == 0xDA:  # the scan's entropy-coded data runs to the next real marker
            found = _MARKER_AFTER_SCAN.search(data, i)
            if found is None:
                return
            i = found.start()


def decode_input_image(data: bytes, *, field: str, value: Any, limits: InputImageLimits) -> Image.Image:
    """``data`` as an RGB/RGBA image if ``limits`` accept it; ``value`` is what the client sent (for errors)."""
    kind = image_format(data)
    names = " or ".join(f.upper() for f in limits.formats)
    if kind is None or kind not in limits.formats:
        raise NotAnImage(field, value, f"{field} {show_value(value)} is not a {names} image "
                         f"(it starts with {data[:8].hex(' ')})")
    broken = f"{field} {show_value(value)} is a broken {kind.upper()}"
    size = image_header(data, kind)
    if size is None:
        raise NotAnImage(field, value, f"{broken}: its header has no image size")
    _check_sides(size, field, value, limits)
    if kind == "jpeg":
        scans = jpeg_scans(data, stop_after=limits.max_scans)
        if scans > limits.max_scans:
            raise TooManyScans(field, value, f"{field} {show_value(value)} is a JPEG with more than "
                               f"{limits.max_scans} scans; at most {limits.max_scans} are accepted "
                               "(a progressive JPEG has about 10)")
    try:
        return decode_checked(data, kind, check=lambda opened: _check_sides(opened, field, value, limits))
    except UnidentifiedImageError:
        raise NotAnImage(field, value, f"{broken}: its data cannot be read as a {kind.upper()}") from None
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError, MemoryError) as exc:
        raise NotAnImage(field, value, f"{broken}: {_reason(exc)}") from None


def decode_checked(data: bytes, kind: str | None = None,
                   check: Callable[[tuple[int, int]], None] | None = None) -> Image.Image:
    """Bytes that passed :func:`decode_input_image` (a stored job's input) as the image it gave.

    EXIF orientation applied, RGB or RGBA. ``check`` sees the size Pillow reads before
    any pixel is decoded. Raises what Pillow raises for broken bytes.
    """
    kind = kind or image_format(data) or "png"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's decompression-bomb and EXIF warnings: sizes are checked first
        image = Image.open(io.BytesIO(data), formats=[_PILLOW_FORMATS[kind]])
        if check is not None:
            check(image.size)
        image.load()
        image = ImageOps.exif_transpose(image) or image
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def _check_sides(size: tuple[int, int], field: str, value: Any, limits: InputImageLimits) -> None:
    width, height = size
    if not (limits.min_side <= width <= limits.max_side and limits.min_side <= height <= limits.max_side):
        raise BadDimensions(field, value, f"{field} {show_value(value)} is {width}x{height}; each side must be "
                            f"{limits.min_side} to {limits.max_side} pixels")


_REPR = re.compile(r"<[^<>]* at 0x[0-9a-fA-F]+>|0x[0-9a-fA-F]{6,}|(?:/[\w.-]+){2,}")


def _reason(exc: BaseException) -> str:
    """What went wrong, in words: the decoder's message without reprs, addresses or paths."""
    text = _REPR.sub("", str(exc)).strip(" :")
    return text or type(exc).__name__
