"""Hostile input images for the regression tests of issue 18: a progressive-JPEG scan bomb, broken PNGs."""
from __future__ import annotations

import base64
import io

from PIL import Image

__all__ = ["TRUNCATED_PNG", "b64", "scan_bomb"]


def scan_bomb(side: int = 2048, scans: int = 300) -> bytes:
    """A valid progressive ``side``x``side`` JPEG whose last small scan is repeated until it has ``scans`` scans.

    Its header is honest (a size every server accepts) and it is a few kB, but libjpeg makes
    a pass over every pixel for each scan: 300 scans at 2048x2048 is about a second of CPU
    on this machine, 30,000 about two minutes.
    """
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (128, 128, 128)).save(buffer, "JPEG", progressive=True, quality=75)
    data = buffer.getvalue()
    last = data.rfind(b"\xff\xda")  # the last start-of-scan: a few bytes of entropy-coded data after it
    natural = data.count(b"\xff\xda")
    return data[:-2] + data[last:-2] * (scans - natural) + data[-2:]


def _truncated_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()[:30]


TRUNCATED_PNG = _truncated_png()
"""The first 30 bytes of a 256x256 PNG: its signature and IHDR (a size in range), nothing after."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
