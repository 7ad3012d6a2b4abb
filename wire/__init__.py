"""The wire: what travels between a client and a server of a contract, read from its document.

Flask-free and server-free: both servers (through ``protocol/``) and every client (the
contract suite, drift, the proxy) use it, so a fact of the wire lives here once.
It imports only ``spec/`` (and Pillow for images). Being built; see the modules.
"""
from __future__ import annotations

from .images import (
    BadDimensions,
    ImageRefused,
    NotAnImage,
    TooManyScans,
    decode_checked,
    decode_input_image,
    image_format,
    image_header,
    jpeg_scans,
)

__all__: list[str] = [
    "BadDimensions",
    "ImageRefused",
    "NotAnImage",
    "TooManyScans",
    "decode_checked",
    "decode_input_image",
    "image_format",
    "image_header",
    "jpeg_scans",
]
