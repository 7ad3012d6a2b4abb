"""JSON out, as every server writes it: answers, stored jobs, journal entries.

Encoding was the largest single item of the mock's hot path (issue 22: 12-17% of a
worker's time under load went to ``json``'s encoder for the answer, the job's
``meta`` and the journal entry), so it goes through orjson, a JSON library written
in Rust and made for exactly this: several times faster than the standard
library's encoder, compact by default, keys in insertion order.

orjson is stricter than the standard library in a few places, and there the
standard library answers instead, so nothing that encoded before fails now:

- a string holding a lone surrogate (``"\\ud800"`` read from a request, kept in the
  journal): orjson refuses it, ``json`` escapes it;
- an integer beyond 64 bits (a seed a client sent as ``2**70``);
- a dict key that is not a string.

Two differences remain, both JSON-equivalent: non-ASCII text is written as UTF-8,
not as ``\\uXXXX`` escapes, and exponents are spelt ``1e16``, not ``1e+16``. No
value these encode is ever NaN or infinite: ``spec.parse_json_body`` refuses both
in requests, and the servers make none.
"""
from __future__ import annotations

import json
from typing import Any, Callable

import orjson

__all__ = ["json_bytes", "json_text"]

_COMPACT = json.JSONEncoder(separators=(",", ":")).encode  # made once: json.dumps builds one per call


def json_bytes(body: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    """Compact UTF-8 JSON of ``body``, as every answer is sent; ``default`` turns what JSON lacks into what it has."""
    try:
        return orjson.dumps(body, default=default)
    except TypeError:  # orjson.JSONEncodeError: what only the standard library encodes (see above)
        encode = _COMPACT if default is None else json.JSONEncoder(separators=(",", ":"), default=default).encode
        return encode(body).encode("ascii")  # ensure_ascii: lone surrogates escaped


def json_text(body: Any, default: Callable[[Any], Any] | None = None) -> str:
    """:func:`json_bytes` as text, for a TEXT column."""
    return json_bytes(body, default).decode("utf-8")
