"""The wire: what travels between a client and a server of a contract, read from its document.

Flask-free and server-free: both servers (through ``protocol/``) and every client (the
contract suite, drift, the proxy) use it, so a fact of the wire lives here once. It
imports only ``spec/`` (and Pillow for images).

- ``routes``: the route table (:func:`route_table`): servers route by it, the proxy
  matches paths with it, clients build URLs from it;
- ``prefer``: the ``Prefer`` header, read by servers and written by clients;
- ``contract``: the document's ``x-t2i-wire`` hint (:func:`wire_of`): where the key
  travels, status words, the lifecycle, output forms, the error template, the
  not-implemented signal;
- ``answers``: answers built by servers and read by clients (:func:`answers_for`);
- ``errors``: the error shape written (:func:`render_error`) and read (:func:`read_error`);
- ``seeds``: the seed range servers pick from and clients draw from;
- ``images``: input-image decoding within the document's bounds;
- ``requests`` and ``validation``: a contract pack's request read as the generic one.
"""
from __future__ import annotations

from .answers import Answers, JobView, Reading, answers_for
from .contract import Wire, wire_of
from .errors import read_error, render_error
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
from .prefer import PreferError, Preferences, parse_prefer, prefer_header
from .routes import Route, RouteTable, route_table
from .seeds import SeedRange, seed_range

__all__: list[str] = [
    "Answers",
    "BadDimensions",
    "ImageRefused",
    "JobView",
    "NotAnImage",
    "PreferError",
    "Preferences",
    "Reading",
    "Route",
    "RouteTable",
    "SeedRange",
    "TooManyScans",
    "Wire",
    "answers_for",
    "decode_checked",
    "decode_input_image",
    "image_format",
    "image_header",
    "jpeg_scans",
    "parse_prefer",
    "prefer_header",
    "read_error",
    "render_error",
    "route_table",
    "seed_range",
    "wire_of",
]
