"""Every check of the suite, registered by id (:mod:`contract_tests.registry`), and its verdict as a pure function.

Each takes what was sent and what came back and returns a list of problems
(empty: the check passed), or a :class:`Verdict` when it judges several things
at once and says how many ("9 images compared"; 0 when it had nothing to judge,
so that the check shows as SKIP, never as a PASS that looked at nothing).
``answer`` checks judge every answer and ``result`` checks every success result
(the engine runs them); the scenarios call the others where they apply. Each
problem is reported by one check only: a 5xx is ``no_server_error``'s business,
so ``valid_accepted`` and ``invalid_rejected`` do not report it again.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from t2i_contract.spec import Spec, Text2ImgRequest

from .client import BACKPRESSURE, Exchange
from .images import LoadedImage
from .registry import Result, Verdict, check, define

__all__ = [
    "conformance",
    "default_departures",
    "defaults",
    "image_size",
    "img2img_size",
    "inpaint_preserves",
    "input_refused",
    "invalid_named",
    "key_refused",
    "invalid_rejected",
    "meta_echo",
    "model_reload",
    "no_server_error",
    "refused_for_the_model",
    "sample_count",
    "valid_accepted",
]

_ACCEPTED = frozenset({"success", "processing"})
_GENERATIONS = ("text2img", "img2img", "inpaint")


def conformance(spec: Spec, exchange: Exchange) -> list[str]:
    """The spec's verdict on the answer (status, Content-Type, body); ``t2i proxy`` uses the same one."""
    if not exchange.answered or exchange.operation is None:
        return []
    return spec.responses.check_answer(exchange.operation, exchange.status, exchange.content_type, exchange.content)


define("conformance", "every response matches exactly one branch of the spec for its status code",
       kind="answer", fn=lambda spec, exchange: conformance(spec, exchange)
       if exchange.answered and exchange.operation is not None else Verdict([], 0),
       unit="answers judged", nothing="no HTTP answer came")


def no_server_error(exchange: Exchange) -> list[str]:
    if not exchange.answered:
        return [f"no HTTP answer ({exchange.error})"]
    if exchange.status >= 500 and exchange.status != 503:
        return [f"HTTP {exchange.status}"]
    return []


define("no_server_error", "no 5xx (other than a documented 503) for any input, valid or invalid",
       kind="answer", fn=lambda spec, exchange: no_server_error(exchange), unit="answers judged",
       nothing="nothing was sent")


@check("invalid_rejected", "an invalid body gets the error branch, never success or processing",
       unit="invalid requests judged", nothing="no invalid request was sent")
def invalid_rejected(exchange: Exchange) -> list[str]:
    if not exchange.answered or exchange.status >= 500:
        return []
    if 400 <= exchange.status < 500 or exchange.branch == "error":
        return []
    return [f"HTTP {exchange.status} with status {exchange.word!r} for a body the spec rejects"]


def _names(answer: Any, field: str) -> bool:
    """Does an error answer name ``field``: an ``errors`` entry's field, or the message?"""
    if not isinstance(answer, dict):
        return False
    errors = answer.get("errors")
    if isinstance(errors, list) and any(isinstance(e, dict) and e.get("field") == field for e in errors):
        return True
    message = answer.get("message")
    return isinstance(message, str) and field in message


@check("invalid_named", "a 400 for a body that breaks one field's rule names that field, in errors or the message",
       unit="one-field breakages looked for", nothing="no body breaking one field got a 400")
def invalid_named(exchange: Exchange, field: str) -> Verdict:
    """Judged only on a 400 (the spec's answer to a schema violation); another 4xx is ``invalid_rejected``'s."""
    if exchange.status != 400:
        return Verdict([], 0)
    if _names(exchange.json, field):
        return Verdict([])
    return Verdict([f"HTTP 400 for a body whose only broken field is {field}, but neither errors[].field nor the "
                    f"message names {field} (the spec: an error names the offending field, ErrorResponse.errors)"])


@check("valid_accepted", "a valid body gets success or processing (or a documented 429/503), never an error",
       unit="valid requests judged", nothing="no valid request was sent")
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
    return [f"HTTP {exchange.status} with status {exchange.word!r} for a valid body"
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


define("sample_count", "a success has exactly `samples` outputs, after fetching when it was processing",
       kind="result", fn=lambda r: sample_count(r.request, r.payload), operations=_GENERATIONS,
       unit="results counted", nothing="no success result came (see valid_accepted, lifecycle)")


def image_size(spec: Spec, request: Text2ImgRequest, images: Iterable[LoadedImage]) -> Verdict:
    """Every output image decodes at the spec's output size; judged: the images looked at (one that fails to load
    is a failure, not a skip: the spec promises images)."""
    images = list(images)
    return Verdict([message for _, message in _size_departures(spec, request, images)], len(images))


define("image_size", "every output decodes as an image of the spec's output size for width x height and upscale",
       kind="result", fn=lambda r: image_size(r.spec, r.request, r.images), operations=("text2img",),
       unit="images measured", nothing="no success result had output items to measure (see sample_count)")


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


def _echoed(result: Result) -> Mapping[str, Any]:
    """What meta must echo: input images are not asked back (a base64 init image in every meta would be
    megabytes), nor the width and height img2img and inpaint take from the init image (DECISIONS D20)."""
    if result.operation == "text2img":
        return result.body
    return {k: v for k, v in result.body.items() if k not in ("init_image", "mask_image", "width", "height")}


define("meta_echo", "meta echoes the request's normalised parameters and the seed used",
       kind="result", fn=lambda r: meta_echo(r.spec, r.request, _echoed(r), r.payload), operations=_GENERATIONS,
       unit="results' meta compared", nothing="no success result came (see valid_accepted, lifecycle)")


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


@check("defaults", "a body with only key, model_id and prompt gives one 512x512 image and default meta",
       unit="minimal-body results judged", nothing="the minimal body gave no success (see valid_accepted, lifecycle)")
def defaults(spec: Spec, request: Text2ImgRequest, result: Mapping[str, Any],
             images: list[LoadedImage]) -> list[str]:
    """A body of only the required fields: one image of the default size, defaults in meta."""
    sent = {item.name for item in spec.request_fields("text2img") if item.required}
    return [problem for _, problem in default_departures(spec, dict.fromkeys(sent), request, result, images)]


# -- the scenario checks: judged where their scenario applies ----------------------------
define("determinism", "the same body and seed give identical images; another seed gives different ones",
       unit="seed comparisons", nothing="a probe request did not give decodable images")
define("lifecycle", "a processing answer reaches success through fetch within eta plus a margin",
       unit="processing answers followed",
       nothing="the server never answered processing, so fetch polling was not exercised")
define("webhook", "a request's webhook receives the completion payload with its id and track_id",
       unit="webhooks awaited", nothing="no webhook probe was accepted (see valid_accepted)")
@check("auth", "a wrong or missing key is refused on every operation that takes one: a 401 in the error shape (a "
               "missing key may also be a 400 naming key, as for any required field)",
       unit="wrong- or missing-key requests judged", nothing="no --key given, so the server is not expected to "
                                                               "check keys")
def key_refused(exchange: Exchange, missing: bool = False) -> list[str]:
    """A wrong key: 401 with the error shape. A missing key: that, or a 400 naming ``key`` (it is required)."""
    if not exchange.answered or exchange.status >= 500:
        return []  # no_server_error's
    if exchange.status == 401 and exchange.branch == "error":
        return []
    if missing and exchange.status == 400 and _names(exchange.json, "key"):
        return []
    return [f"HTTP {exchange.status} with status {exchange.word!r} for a {'missing' if missing else 'wrong'} key "
            f"(the spec: a key the server does not know is a 401 in ErrorResponse's shape)"]
define("implemented", "every operation of the spec is served: a valid body never gets a 404 naming the operation "
                      "(--skip implemented tests only the operations the server has)",
       unit="operations probed", nothing="the spec has no operation beyond text2img and fetch")


# -- img2img, inpaint and model_reload ------------------------------------------------
define("init_image_used", "the init image's content reaches the output: two init images, everything else the same "
                          "(seed included), give different outputs, each nearer its own init image at low strength",
       unit="init-image pairs compared", nothing="no pair of img2img or inpaint outputs decoded at the init size")
define("strength_matters", "strength matters: a low and a high strength give different outputs, the low one nearer "
                           "the init image",
       unit="strength pairs compared",
       nothing="no pair of outputs to compare, or the init image did not reach the output (see init_image_used)")


def img2img_size(init: tuple[int, int], images: Iterable[LoadedImage]) -> Verdict:
    """img2img and inpaint: every output has the init image's size (the spec's D20); judged: the images."""
    images = list(images)
    found = []
    for image in images:
        if image.problem:
            found.append(image.problem)
        elif image.size != init:
            size = image.size or (0, 0)
            found.append(f"output[{image.index}] is {size[0]}x{size[1]}, but init_image is {init[0]}x{init[1]}")
    return Verdict(found, len(images))


define("img2img_size", "img2img and inpaint outputs decode as images of the init image's size, not width x height",
       kind="result", fn=lambda r: img2img_size(r.inputs["init_image"][0], r.images) if "init_image" in r.inputs
       else Verdict([], 0), operations=("img2img", "inpaint"), unit="images measured",
       nothing="no img2img or inpaint result had output items to measure (see valid_accepted, implemented)")


def inpaint_preserves(init: tuple[tuple[int, int], bytes], mask: tuple[tuple[int, int], bytes],
                      images: Iterable[LoadedImage]) -> Verdict:
    """Every pixel the mask leaves black (0) is the init image's pixel, exactly, in every output.

    ``init`` is the size and RGBA bytes of the init image, ``mask`` the size and one
    byte per pixel of the mask. An image that did not decode, or of another size, is
    ``img2img_size``'s business and is not compared: judged counts the images compared.
    """
    (width, height), expected = init
    kept = [i for i, value in enumerate(mask[1]) if value == 0]
    found, compared = [], 0
    for image in images:
        if image.problem or image.size != (width, height) or not image.rgba:
            continue
        compared += 1
        changed = [i for i in kept if image.rgba[4 * i:4 * i + 3] != expected[4 * i:4 * i + 3]]
        if changed:
            first = changed[0]
            found.append(f"output[{image.index}] changed {len(changed)} of the {len(kept)} pixels the mask keeps "
                         f"(black), first at x={first % width}, y={first // width}: "
                         f"{tuple(image.rgba[4 * first:4 * first + 3])} instead of "
                         f"{tuple(expected[4 * first:4 * first + 3])}")
    return Verdict(found, compared)


define("inpaint_preserves", "inpaint keeps every pixel the mask leaves black exactly (this toolkit's reading, not "
                            "the vendor's promise: --skip it for a server that blends)",
       kind="result", fn=lambda r: inpaint_preserves(r.inputs["init_image"], r.inputs["mask_image"], r.images)
       if {"init_image", "mask_image"} <= set(r.inputs) else Verdict([], 0), operations=("inpaint",),
       unit="images compared",
       nothing="no inpaint output image decoded at the init image's size (see img2img_size)")


@check("input_refused", "an unreachable, missing or non-image init_image or mask_image gets a 4xx naming the field, "
                        "never a 5xx or a success",
       unit="unusable inputs sent", nothing="the spec has no operation with an input image")
def input_refused(exchange: Exchange, field: str) -> list[str]:
    """An unusable input image: a 4xx in the error shape naming ``field``, never a 5xx or an acceptance."""
    if not exchange.answered:
        return []  # no_server_error reports it
    if exchange.status >= 500:
        return [f"HTTP {exchange.status} for an unusable {field}: a bad input is the client's error, a 4xx"]
    if not 400 <= exchange.status < 500:
        return [f"HTTP {exchange.status} with status {exchange.word!r} for an unusable {field}"]
    if not _names(exchange.json, field):
        return [f"HTTP {exchange.status}, but the answer does not name {field}"]
    return []


@check("model_reload", "model_reload answers success, or processing and then success when called again, with a "
                       "message", unit="reload answers judged", nothing="the spec has no model_reload operation")
def model_reload(exchange: Exchange) -> list[str]:
    """A model_reload answer: 200 with ``status`` success or processing and a ``message``.

    The shape itself is ``conformance``'s; this says whether the reload was done or is under way.
    """
    if not exchange.answered or exchange.status >= 500:
        return []
    if exchange.status != 200 or exchange.branch not in _ACCEPTED:
        message = exchange.json.get("message") if isinstance(exchange.json, dict) else None
        return [f"HTTP {exchange.status} with status {exchange.word!r} for a reload of a model the server has"
                + (f": {message}" if message else "")]
    if not isinstance(exchange.json.get("message"), str):
        return [f"answer {exchange.word!r} without a message string"]
    return []
