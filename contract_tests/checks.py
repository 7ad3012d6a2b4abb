"""The verdicts of the single-response checks, as pure functions.

Each takes what was sent and what came back and returns a list of problems
(empty: the check passed). :mod:`contract_tests.suite` decides when each one
applies and records the results. Each problem is reported by one check only:
a 5xx is ``no_server_error``'s business, so ``valid_accepted`` and
``invalid_rejected`` do not report it again.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from t2i_contract.spec import Spec, Text2ImgRequest
from t2i_contract.spec.errors import MISSING

from .client import Exchange
from .images import LoadedImage

__all__ = [
    "conformance",
    "defaults",
    "image_size",
    "invalid_rejected",
    "meta_echo",
    "no_server_error",
    "sample_count",
    "valid_accepted",
]

BACKPRESSURE = frozenset({429, 503})
_ACCEPTED = frozenset({"success", "processing"})
_BOOL_WORDS = {"yes": True, "true": True, "no": False, "false": False}


def conformance(spec: Spec, exchange: Exchange) -> list[str]:
    """The spec's verdict on the answer (status, Content-Type, body); ``t2i proxy`` uses the same one."""
    if not exchange.answered or exchange.operation is None:
        return []
    return spec.responses.check_answer(exchange.operation, exchange.status, exchange.content_type, exchange.content)


def no_server_error(exchange: Exchange) -> list[str]:
    if not exchange.answered:
        return [f"no HTTP answer ({exchange.error})"]
    if exchange.status >= 500 and exchange.status != 503:
        return [f"HTTP {exchange.status}"]
    return []


def invalid_rejected(exchange: Exchange) -> list[str]:
    if not exchange.answered or exchange.status >= 500:
        return []
    if 400 <= exchange.status < 500 or exchange.branch == "error":
        return []
    return [f"HTTP {exchange.status} with status {exchange.branch!r} for a body the spec rejects"]


def valid_accepted(exchange: Exchange) -> list[str]:
    if not exchange.answered or exchange.status >= 500 or exchange.status in BACKPRESSURE:
        return []
    if 200 <= exchange.status < 300 and exchange.branch in _ACCEPTED:
        return []
    message = exchange.json.get("message") if isinstance(exchange.json, dict) else None
    return [f"HTTP {exchange.status} with status {exchange.branch!r} for a valid body"
            + (f": {message}" if message else "")]


def sample_count(request: Text2ImgRequest, result: Mapping[str, Any]) -> list[str]:
    output = result.get("output")
    count = len(output) if isinstance(output, list) else None
    if count != request.samples:
        return [f"{count} output item(s) for samples={request.samples}"]
    return []


def expected_size(request: Text2ImgRequest) -> tuple[int, int]:
    factor = 2 if request.upscale else 1
    return request.width * factor, request.height * factor


def image_size(request: Text2ImgRequest, images: Iterable[LoadedImage]) -> list[str]:
    want = expected_size(request)
    problems = []
    for image in images:
        if image.problem:
            problems.append(image.problem)
        elif image.size != want:
            problems.append(f"output[{image.index}] is {image.size[0]}x{image.size[1]}, "  # type: ignore[index]
                            f"expected {want[0]}x{want[1]}")
    return problems


def _same(sent: Any, seen: Any) -> bool:
    """Does meta value ``seen`` say the same as the normalised value ``sent``?"""
    if isinstance(sent, (tuple, list)):
        if isinstance(seen, str):
            seen = [p.strip() for p in seen.split(",")] if seen.strip() else []
        return isinstance(seen, list) and len(seen) == len(sent) and all(_same(a, b) for a, b in zip(sent, seen))
    if isinstance(sent, bool):
        if isinstance(seen, str):
            return _BOOL_WORDS.get(seen.lower()) is sent
        return seen is sent
    if isinstance(sent, (int, float)):
        if isinstance(seen, str):
            try:
                seen = float(seen)
            except ValueError:
                return False
        return isinstance(seen, (int, float)) and not isinstance(seen, bool) and math.isclose(sent, seen,
                                                                                               rel_tol=1e-6)
    if sent is None:
        return seen in (None, "")
    return sent == seen


def meta_echo(request: Text2ImgRequest, sent: Mapping[str, Any], result: Mapping[str, Any]) -> list[str]:
    """``meta`` must carry every parameter the client sent (normalised, or exactly as sent) and the seed used."""
    meta = result.get("meta")
    if not isinstance(meta, dict):
        return [f"meta is {'missing' if meta is None else type(meta).__name__}, expected the request's parameters"]
    normalised = request.to_meta()
    problems = []
    for name in sent:
        if name not in normalised or (sent[name] is None and name not in meta):
            continue
        if name == "seed" and request.seed is None:
            continue  # a null seed comes back as the seed used, checked below
        if name not in meta:
            problems.append(f"meta lacks {name} (sent {sent[name]!r})")
        elif not _same(normalised[name], meta[name]) and meta[name] != sent[name]:
            problems.append(f"meta.{name} is {meta[name]!r}, but the request's {name} is {normalised[name]!r}")
    seed = meta.get("seed")
    if request.seed is None and (type(seed) is not int or seed < 0):
        problems.append(f"meta.seed is {seed!r}: with seed null the server must report the seed it used")
    return problems


def defaults(spec: Spec, request: Text2ImgRequest, result: Mapping[str, Any],
             images: list[LoadedImage]) -> list[str]:
    """A body of only the required fields: one image of the default size, defaults in meta."""
    problems = sample_count(request, result) + image_size(request, images)
    meta = result.get("meta")
    if isinstance(meta, dict):
        for name, rule in spec.validator("text2img").fields.items():
            default = rule.default
            if default is MISSING or default is None or name not in meta:
                continue
            if not _same(default, meta[name]):
                problems.append(f"meta.{name} is {meta[name]!r}, but the spec's default is {default!r}")
    return problems
