"""Read an incoming API call before the spec validates it, or refuse it.

The routes run the checks in the order a client would want them reported: a forced
error (``Prefer: code=N``), then the content type and size limit (here), JSON syntax
(``spec.parse_json_body``), then the API key (here). Field validation itself is
``spec.parse_text2img`` / ``spec.parse_fetch``. Also builds the journal entry that
records what the client sent, and sleeps the simulated ``--latency``.
"""
from __future__ import annotations

import random
import time
from typing import Any

from flask import Request

from .config import MockConfig
from .errors import AuthError, RequestRejected

__all__ = ["check_key", "is_json", "journal_entry", "read_body", "simulate_latency"]

_JSON_TYPES = ("application/json",)
# Headers worth keeping in the journal; hop-by-hop and server-added ones are noise.
_SKIP_HEADERS = frozenset({"host", "content-length", "connection", "accept-encoding"})


def is_json(content_type: str | None) -> bool:
    """Whether a Content-Type header may carry the JSON body; a missing one may."""
    mimetype = (content_type or "").partition(";")[0].strip().lower()
    return mimetype in _JSON_TYPES or mimetype == "" or mimetype.endswith("+json")


def simulate_latency(config: MockConfig) -> None:
    low, high = config.latency
    if high > 0:
        time.sleep(random.uniform(low, high) / 1000.0)


def _raw_body(request: Request, limit: int) -> bytes:
    length = request.content_length
    if length is not None and length > limit:
        raise RequestRejected("", "max_size", f"request body must be at most {limit} bytes, got {length}", length)
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise RequestRejected("", "max_size", f"request body must be at most {limit} bytes, got more", None)
    return raw


def read_body(request: Request, config: MockConfig) -> bytes:
    """The raw body of an API call; a 400 when its type is not JSON or it is too large.

    A missing Content-Type is read as JSON (some clients send ``data=json.dumps(...)``);
    one that names anything but JSON is refused.
    """
    if not is_json(request.content_type):
        raise RequestRejected(
            "Content-Type", "content_type",
            f"Content-Type must be application/json, got {request.content_type!r} "
            "(curl -d sends form data; add -H 'Content-Type: application/json')", request.content_type,
        )
    return _raw_body(request, config.max_body)


def check_key(body: dict[str, Any], config: MockConfig) -> None:
    """With ``--keys``, refuse a missing or unknown key with the hosted API's 401."""
    if config.auth and body.get("key") not in config.keys:
        raise AuthError()


def journal_entry(environ: dict[str, Any]) -> dict[str, Any]:
    """The start of a journal entry from a WSGI environ: when, what, and the headers sent."""
    headers = {}
    for name, value in environ.items():
        if name.startswith("HTTP_"):
            header = name[5:].replace("_", "-").title()
        elif name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            header = name.replace("_", "-").title()
        else:
            continue
        if header.lower() not in _SKIP_HEADERS:
            headers[header] = value
    return {
        "at": time.time(),
        "method": environ.get("REQUEST_METHOD", ""),
        "path": environ.get("PATH_INFO", ""),
        "query": environ.get("QUERY_STRING", ""),
        "headers": headers,
    }
