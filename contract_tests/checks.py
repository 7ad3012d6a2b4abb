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

from .client import BACKPRESSURE, Exchange
from .images import LoadedImage

__all__ = [
    "conformance",
    "default_departures",
    "defaults",
    "image_size",
    "img2img_size",
    "inpaint_preserves",
    "input_refused",
    "invalid_rejected",
    "meta_echo",
    "model_reload",
    "no_server_error",
    "refused_for_the_model",
    "sample_count",
    "valid_accepted",
]

_ACCEPTED = frozenset({"success", "processing"})


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


def valid_accepted(exchange: Exchange, model_dependent: Mapping[str, Any] | None = None) -> list[str]:
    """A valid body is accepted; ``model_dependent`` (field: value sent) may be refused for the model.

    The spec lets a server refuse a value of an ``x-t2i-model-dependent`` field that the
    requested model cannot run (a sampler on FLUX.1). Such an answer passes only as a 400
    whose every ``errors`` entry names one of those fields, with the value sent when it
    gives one (:func:`refused_for_the_model`); any other error is still a failure.
    """
    if not exchange.answered or exchange.status >= 500 or exchange.status in BACKPRESSURE:
        return []
    if 200 <= exchange.status < 300 and exchange.branch in _ACCEPTED:
        return []
    if refused_for_the_model(exchange, model_dependent or {}):
        return []
    message = exchange.json.get("message") if isinstance(exchange.json, dict) else None
    return [f"HTTP {exchange.status} with status {exchange.branch!r} for a valid body"
            + (f": {message}" if message else "")]


def refused_for_the_model(exchange: Exchange, model_dependent: Mapping[str, Any]) -> bool:
    """Is the answer a 400 refusing only model-dependent values, each named with the value sent?"""
    if exchange.status != 400 or not model_dependent or not isinstance(exchange.json, dict):
        return False
    problems = exchange.json.get("errors")
    if not isinstance(problems, list) or not problems:
        return False
    return all(isinstance(problem, dict) and problem.get("field") in model_dependent
               and ("value" not in problem or problem["value"] == model_dependent[problem["field"]])
               for problem in problems)


def sample_count(request: Text2ImgRequest, result: Mapping[str, Any]) -> list[str]:
    output = result.get("output")
    count = len(output) if isinstance(output, list) else None
    if count != request.samples:
        return [f"{count} output item(s) for samples={request.samples}"]
    return []


def image_size(spec: Spec, request: Text2ImgRequest, images: Iterable[LoadedImage]) -> list[str]:
    return [message for _, message in _size_departures(spec, request, images)]


def _size_departures(spec: Spec, request: Text2ImgRequest, images: Iterable[LoadedImage]) -> list[tuple[str, str]]:
    """(field, problem) per image that did not load or is not the spec's output size (``output`` / width / height)."""
    want = spec.output_size(request.width, request.height, request.upscale)
    found = []
    for image in images:
        if image.problem:
            found.append(("output", image.problem))
        elif image.size != want:
            size = image.size or (0, 0)
            axis = "width" if size[0] != want[0] else "height"
            found.append((axis, f"output[{image.index}] is {size[0]}x{size[1]}, expected {want[0]}x{want[1]}"))
    return found


def _same(spec: Spec, sent: Any, seen: Any) -> bool:
    """Does meta value ``seen`` say the same as the normalised value ``sent``?"""
    if isinstance(sent, (tuple, list)):
        if isinstance(seen, str):
            seen = [p.strip() for p in seen.split(",")] if seen.strip() else []
        return isinstance(seen, list) and len(seen) == len(sent) and all(
            _same(spec, a, b) for a, b in zip(sent, seen))
    if isinstance(sent, bool):
        if isinstance(seen, str):
            return spec.wire_booleans.get(seen.lower()) is sent
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


def meta_echo(spec: Spec, request: Text2ImgRequest, sent: Mapping[str, Any], result: Mapping[str, Any]) -> list[str]:
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
        elif not _same(spec, normalised[name], meta[name]) and meta[name] != sent[name]:
            problems.append(f"meta.{name} is {meta[name]!r}, but the request's {name} is {normalised[name]!r}")
    seed = meta.get("seed")
    if request.seed is None and (type(seed) is not int or seed < 0):
        problems.append(f"meta.seed is {seed!r}: with seed null the server must report the seed it used")
    return problems


def default_departures(spec: Spec, sent: Mapping[str, Any], request: Text2ImgRequest, result: Mapping[str, Any],
                       images: list[LoadedImage]) -> list[tuple[str, str]]:
    """(field, problem) for each field ``sent`` omits whose default the answer does not show.

    The images must number the default ``samples`` and have the default size; ``meta``
    must carry each omitted field's default (when it carries the field at all).
    ``output`` marks an image that could not be loaded. ``t2i drift`` reports these
    per field; :func:`defaults` is the contract suite's view of the same.
    """
    found = [("samples", problem) for problem in sample_count(request, result) if "samples" not in sent]
    found += [(name, problem) for name, problem in _size_departures(spec, request, images)
              if name == "output" or name not in sent]
    meta = result.get("meta")
    if isinstance(meta, dict):
        fields = spec.request_fields("text2img")
        # A deprecated second name (x-t2i-alias-of: steps for num_inference_steps) sent in a field's
        # place counts as that field sent: its value, not the default, is what the server must use.
        stood_in = {item.schema["x-t2i-alias-of"] for item in fields
                    if "x-t2i-alias-of" in item.schema and item.name in sent}
        for item in fields:
            if (item.name in sent or item.name in stood_in or not item.has_default or item.default is None
                    or item.name not in meta):
                continue
            if not _same(spec, item.default, meta[item.name]):
                found.append((item.name, f"meta.{item.name} is {meta[item.name]!r}, but the spec's default is "
                                         f"{item.default!r}"))
    return found


def defaults(spec: Spec, request: Text2ImgRequest, result: Mapping[str, Any],
             images: list[LoadedImage]) -> list[str]:
    """A body of only the required fields: one image of the default size, defaults in meta."""
    sent = {item.name for item in spec.request_fields("text2img") if item.required}
    return [problem for _, problem in default_departures(spec, dict.fromkeys(sent), request, result, images)]


# -- img2img, inpaint and model_reload ------------------------------------------------
def img2img_size(init: tuple[int, int], images: Iterable[LoadedImage]) -> list[str]:
    """img2img and inpaint: every output has the init image's size (the spec's D20)."""
    found = []
    for image in images:
        if image.problem:
            found.append(image.problem)
        elif image.size != init:
            size = image.size or (0, 0)
            found.append(f"output[{image.index}] is {size[0]}x{size[1]}, but init_image is {init[0]}x{init[1]}")
    return found


def inpaint_preserves(init: tuple[tuple[int, int], bytes], mask: tuple[tuple[int, int], bytes],
                      images: Iterable[LoadedImage]) -> list[str]:
    """Every pixel the mask leaves black (0) is the init image's pixel, exactly, in every output.

    ``init`` is the size and RGBA bytes of the init image, ``mask`` the size and one
    byte per pixel of the mask. An image of another size is ``init_size``'s business.
    """
    (width, height), expected = init
    kept = [i for i, value in enumerate(mask[1]) if value == 0]
    found = []
    for image in images:
        if image.problem or image.size != (width, height) or not image.rgba:
            continue
        changed = [i for i in kept if image.rgba[4 * i:4 * i + 3] != expected[4 * i:4 * i + 3]]
        if changed:
            first = changed[0]
            found.append(f"output[{image.index}] changed {len(changed)} of the {len(kept)} pixels the mask keeps "
                         f"(black), first at x={first % width}, y={first // width}: "
                         f"{tuple(image.rgba[4 * first:4 * first + 3])} instead of "
                         f"{tuple(expected[4 * first:4 * first + 3])}")
    return found


def input_refused(exchange: Exchange, field: str) -> list[str]:
    """An unusable input image: a 4xx in the error shape naming ``field``, never a 5xx or an acceptance."""
    if not exchange.answered:
        return []  # no_server_error reports it
    if exchange.status >= 500:
        return [f"HTTP {exchange.status} for an unusable {field}: a bad input is the client's error, a 4xx"]
    if not 400 <= exchange.status < 500:
        return [f"HTTP {exchange.status} with status {exchange.branch!r} for an unusable {field}"]
    errors = exchange.json.get("errors") if isinstance(exchange.json, dict) else None
    named = isinstance(errors, list) and any(isinstance(e, dict) and e.get("field") == field for e in errors)
    message = exchange.json.get("message") if isinstance(exchange.json, dict) else None
    if not named and not (isinstance(message, str) and field in message):
        return [f"HTTP {exchange.status}, but the answer does not name {field}"]
    return []


def model_reload(exchange: Exchange) -> list[str]:
    """A model_reload answer: 200 with ``status`` success or processing and a ``message``.

    The shape itself is ``conformance``'s; this says whether the reload was done or is under way.
    """
    if not exchange.answered or exchange.status >= 500:
        return []
    if exchange.status != 200 or exchange.branch not in _ACCEPTED:
        message = exchange.json.get("message") if isinstance(exchange.json, dict) else None
        return [f"HTTP {exchange.status} with status {exchange.branch!r} for a reload of a model the server has"
                + (f": {message}" if message else "")]
    if not isinstance(exchange.json.get("message"), str):
        return [f"answer {exchange.branch!r} without a message string"]
    return []
