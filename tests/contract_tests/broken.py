"""Deliberately broken servers: WSGI middleware around the real mock that breaks one thing.

Each :class:`Breakage` rewrites the JSON request body before the mock sees it,
the JSON answer after, or the PNG bytes of image downloads. The table
:data:`BREAKAGES` names, for each, the checks it must make fail; most break
exactly one check, and where a breakage is visible to a second check by nature
(half-size images are also wrong defaults, and the webhook's images are measured
like the answer's) the table says so.
"""
from __future__ import annotations

import base64
import io
import json
import random
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import requests
from PIL import Image

from t2i_contract.contract_tests.inputs import INIT_SIZE, MASK_BOX, init_png, mask_png

__all__ = ["BREAKAGES", "Breakage", "BrokenServer"]

Json = Any
RequestHook = Callable[[str, Json], Json]
ResponseHook = Callable[[str, Json, int, Json], "tuple[int, Json]"]


@dataclass(frozen=True)
class Breakage:
    name: str
    fails: frozenset[str]
    on_request: RequestHook | None = None
    on_response: ResponseHook | None = None
    on_image: Callable[[bytes], bytes] | None = None
    needs_key: bool = False
    drop_headers: tuple[str, ...] = ()  # request headers the server never sees (WSGI names: HTTP_PREFER)


class BrokenServer:
    """WSGI middleware applying one :class:`Breakage` to ``app``."""

    def __init__(self, app: Callable[..., Any], breakage: Breakage) -> None:
        self.app, self.breakage = app, breakage

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        for name in self.breakage.drop_headers:
            environ.pop(name, None)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            sent: Json = json.loads(raw)
        except ValueError:
            sent = None
        if self.breakage.on_request is not None and isinstance(sent, dict):
            raw = json.dumps(self.breakage.on_request(path, dict(sent))).encode()
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(raw), str(len(raw))
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
            captured.update(status=status, headers=headers)
            return lambda data: None

        chunks = self.app(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        status_code = int(captured["status"].split()[0])
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        content_type = dict((k.lower(), v) for k, v in headers).get("content-type", "")
        if self.breakage.on_response is not None and "json" in content_type:
            status_code, answer = self.breakage.on_response(path, sent, status_code, json.loads(body))
            body = json.dumps(answer).encode()
        elif self.breakage.on_image is not None and content_type.startswith("image/"):
            body = self.breakage.on_image(body)
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{status_code} BROKEN", headers)
        return [body]


# -- the breakages --------------------------------------------------------------------
def _is_text2img(path: str) -> bool:
    return path.endswith("/text2img")


def _one_sample_short(path: str, sent: Json, status: int, answer: Json) -> tuple[int, Json]:
    if _is_text2img(path) and answer.get("status") == "success" and len(answer.get("output", [])) >= 2:
        answer["output"] = answer["output"][:-1]
    return status, answer


def _half_size(png: bytes) -> bytes:
    with Image.open(io.BytesIO(png)) as image:
        small = image.resize((image.width // 2, image.height // 2))
    buffer = io.BytesIO()
    small.save(buffer, format="PNG")
    return buffer.getvalue()


def _no_status_on_errors(path: str, sent: Json, status: int, answer: Json) -> tuple[int, Json]:
    if status >= 400:
        answer.pop("status", None)
    return status, answer


def _width(sent: Json) -> Any:
    return sent.get("width") if isinstance(sent, dict) else None


def _crash_on_width_1024(path: str, sent: Json, status: int, answer: Json) -> tuple[int, Json]:
    if _is_text2img(path) and str(_width(sent)) == "1024":
        return 500, {"status": "error", "message": "Internal server error. Please try again."}
    return status, answer


def _accept_unknown_scheduler(path: str, sent: Json) -> Json:
    if _is_text2img(path) and isinstance(sent.get("scheduler"), str):
        sent["scheduler"] = "DDIMScheduler" if sent["scheduler"].startswith("not-a-") else sent["scheduler"]
    return sent


def _processing_forever(path: str, sent: Json, status: int, answer: Json) -> tuple[int, Json]:
    if "/fetch" in path and answer.get("status") == "success":
        answer = {"status": "processing", "id": answer["id"], "eta": 1, "output": [],
                  "message": "Your request is being processed"}
    return status, answer


def _drop_webhook(path: str, sent: Json) -> Json:
    """Forget a well-formed webhook (a malformed one must still be rejected)."""
    if _is_text2img(path) and str(sent.get("webhook")).startswith("http://127.0.0.1"):
        sent.pop("webhook")
    return sent


_HOOKS: dict[Any, str] = {}  # generation id -> the webhook the client sent, for the fetch answers' meta


def _restore_webhook_in_meta(path: str, sent: Json, status: int, answer: Json) -> tuple[int, Json]:
    """Hide a dropped webhook: meta says the one the client sent, in the first answer and in every fetch."""
    meta = answer.get("meta") if isinstance(answer, dict) else None
    if not isinstance(meta, dict):
        return status, answer
    if isinstance(sent, dict) and sent.get("webhook"):
        meta["webhook"] = _HOOKS[answer.get("id")] = sent["webhook"]
    elif "/fetch" in path and answer.get("id") in _HOOKS:
        meta["webhook"] = _HOOKS[answer["id"]]
    return status, answer


def _good_seed(sent: Json) -> bool:
    seed = sent.get("seed") if isinstance(sent, dict) else None
    return type(seed) is int and 0 <= seed < 2**32


def _randomise_seed(path: str, sent: Json) -> Json:
    """Swap a valid seed for a random one (an invalid seed must still be rejected)."""
    if _is_text2img(path) and _good_seed(sent):
        sent["seed"] = random.randrange(2**32)
    return sent


def _report_sent_seed(path: str, sent: Json, status: int, answer: Json) -> tuple[int, Json]:
    """Hide the swap: meta says the seed the client sent (``sent`` is the body before the hook)."""
    if _good_seed(sent) and isinstance(answer.get("meta"), dict):
        answer["meta"]["seed"] = sent["seed"]
    return status, answer


def _meta_without_prompt(path: str, sent: Json, status: int, answer: Json) -> tuple[int, Json]:
    if isinstance(answer.get("meta"), dict):
        answer["meta"].pop("prompt", None)
    return status, answer


def _wrong_default_guidance(path: str, sent: Json) -> Json:
    if _is_text2img(path):
        sent.setdefault("guidance_scale", 5)
    return sent


def _reject_wire_booleans(path: str, sent: Json, status: int, answer: Json) -> tuple[int, Json]:
    if _is_text2img(path) and isinstance(sent, dict) and any(
            v in ("yes", "no", "true", "false") for v in sent.values()):
        return 400, {"status": "error", "message": "booleans must be JSON true or false"}
    return status, answer


SAMPLER_KEPT = "EulerDiscreteScheduler"
"""The one sampler the servers below run; they refuse every other one "for the model", as a FLUX server may."""


def refuse_samplers(field: str) -> ResponseHook:
    """Answer a generation that names a sampler other than ``SAMPLER_KEPT`` with a 400 naming ``field``."""
    def hook(path: str, sent: Json, status: int, answer: Json) -> tuple[int, Json]:
        scheduler = sent.get("scheduler") if isinstance(sent, dict) else None
        if (path.endswith(("/text2img", "/img2img", "/inpaint")) and isinstance(scheduler, str)
                and scheduler != SAMPLER_KEPT and status == 200):
            message = f"scheduler {scheduler} cannot run on this model"
            value = scheduler if field == "scheduler" else sent.get(field)
            return 400, {"status": "error", "message": message,
                         "errors": [{"field": field, "rule": "supported", "message": message, "value": value}]}
        return status, answer
    return hook


VALID_KEY = "k-valid"


def _any_key_works(path: str, sent: Json) -> Json:
    if isinstance(sent.get("key"), str) and sent["key"]:
        sent["key"] = VALID_KEY
    return sent


def _crash_on_malformed_body(path: str, sent: Json, status: int, answer: Json) -> tuple[int, Json]:
    return (500, {"status": "error", "message": "Internal server error. Please try again."}) \
        if sent is None and status == 400 else (status, answer)


# -- img2img, inpaint and model_reload ---------------------------------------------------
def _is_image_operation(path: str) -> bool:
    return path.endswith(("/img2img", "/inpaint"))


def _edit_init_sized(png: bytes, edit: Callable[[Image.Image], Image.Image]) -> bytes:
    """Apply ``edit`` to an output of the suite's init size (text2img never makes one: 192 < 256)."""
    with Image.open(io.BytesIO(png)) as image:
        if image.size != INIT_SIZE:
            return png
        edited = edit(image.convert("RGB"))
    buffer = io.BytesIO()
    edited.save(buffer, format="PNG")
    return buffer.getvalue()


def _square_outputs(png: bytes) -> bytes:
    """Answer width x height (256x256 here), not the init image's size."""
    return _edit_init_sized(png, lambda image: image.resize((INIT_SIZE[0], INIT_SIZE[0])))


def _paint_one_kept_pixel(png: bytes) -> bytes:
    """Change one pixel the mask keeps (its top-left corner is black), as a blending inpainter would."""
    def paint(image: Image.Image) -> Image.Image:
        assert MASK_BOX[0] > 0 and MASK_BOX[1] > 0
        red, green, blue = image.getpixel((0, 0))
        image.putpixel((0, 0), (255 - red, green, blue))
        return image
    return _edit_init_sized(png, paint)


_USABLE = {name: "data:image/png;base64," + base64.b64encode(png).decode("ascii")
           for name, png in (("init_image", init_png()), ("mask_image", mask_png()))}


def _usable_inputs(path: str, sent: Json) -> Json:
    """Swap the suite's unusable inputs for usable ones, so the server accepts what it must refuse."""
    if not _is_image_operation(path):
        return sent
    for name in ("init_image", "mask_image"):
        value = sent.get(name)
        if not isinstance(value, str):
            continue
        if value.startswith("data:") and len(value) < 200:  # the base64 of a few bytes of text
            sent[name] = _USABLE[name]
        for bad, good in (("missing.png", "init.png"), ("not-an-image.png", "init.png"),
                          ("other-size.png", "mask.png")):
            if value.endswith("/" + bad):
                sent[name] = value[:-len(bad)] + (good if name == "init_image" else "mask.png")
    return sent


def _crash_on_bad_input(path: str, sent: Json, status: int, answer: Json) -> tuple[int, Json]:
    errors = answer.get("errors") if isinstance(answer, dict) else None
    input_problem = isinstance(errors, list) and any(
        isinstance(e, dict) and e.get("field") in ("init_image", "mask_image")
        and e.get("rule") not in ("required", "pattern", "minLength", "type") for e in errors)
    if _is_image_operation(path) and status == 400 and input_problem:
        return 500, {"status": "error", "message": "Internal server error. Please try again."}
    return status, answer


def _no_img2img(path: str, sent: Json, status: int, answer: Json) -> tuple[int, Json]:
    if path.endswith("/img2img"):
        message = "Not found: this server does not implement img2img"
        return 404, {"status": "error", "message": message,
                     "errors": [{"field": "", "rule": "operation", "message": message, "value": "img2img"}]}
    return status, answer


def _reload_fails(path: str, sent: Json, status: int, answer: Json) -> tuple[int, Json]:
    if path.endswith("/model_reload") and status == 200:
        return 200, {"status": "error", "message": "the model could not be loaded"}
    return status, answer


def _reload_never_ends(path: str, sent: Json, status: int, answer: Json) -> tuple[int, Json]:
    if path.endswith("/model_reload") and status == 200:
        return 200, {"status": "processing", "message": "the model is loading", "eta": 1}
    return status, answer


def _named_field_dropped(path: str, sent: Json, status: int, answer: Json) -> tuple[int, Json]:
    """A 400 for a schema violation that names no field: no errors list, a message that says nothing."""
    if _is_text2img(path) and status == 400 and isinstance(answer, dict) and answer.get("errors"):
        return 400, {"status": "error", "message": "Invalid request."}
    return status, answer


def _is_img2img(path: str) -> bool:
    return path.endswith("/img2img")


def _img2img_seed_ignored(path: str, sent: Json) -> Json:
    if _is_img2img(path) and _good_seed(sent):
        sent["seed"] = random.randrange(2**32)
    return sent


_GREY = "data:image/png;base64," + base64.b64encode(
    (lambda buffer: (Image.new("RGB", INIT_SIZE, (128, 128, 128)).save(buffer, format="PNG"), buffer.getvalue())[1])(
        io.BytesIO())).decode("ascii")


def _init_image_ignored(path: str, sent: Json) -> Json:
    """img2img starts from a grey picture of the init image's size, whatever init image was sent (a usable one)."""
    value = sent.get("init_image")
    if _is_img2img(path) and isinstance(value, str) and (value.endswith(("/init.png", "/init-b.png"))
                                                         or (value.startswith("data:") and len(value) > 200)):
        sent["init_image"] = _GREY
    return sent


def _strength_ignored(path: str, sent: Json) -> Json:
    if _is_img2img(path) and isinstance(sent.get("strength"), (int, float)) and 0 <= sent["strength"] <= 1:
        sent["strength"] = 0.6
    return sent


def _report_sent_strength(path: str, sent: Json, status: int, answer: Json) -> tuple[int, Json]:
    """Hide the swap: meta says the strength the client sent."""
    if isinstance(sent, dict) and "strength" in sent and isinstance(answer.get("meta"), dict):
        answer["meta"]["strength"] = sent["strength"]
    return status, answer


def _any_key_on_img2img_and_reload(path: str, sent: Json) -> Json:
    """img2img and model_reload take any key (a missing one is still a 400: it is an invalid body, which the
    suite judges by invalid_rejected too); text2img, inpaint and fetch still check it."""
    if path.endswith(("/img2img", "/model_reload")) and isinstance(sent.get("key"), str) and sent["key"]:
        sent["key"] = VALID_KEY
    return sent


def _drop_webhook_everywhere(path: str, sent: Json) -> Json:
    """The server itself never sends a well-formed webhook (the breakage posts its own)."""
    if path.endswith(("/text2img", "/img2img", "/inpaint")) and str(sent.get("webhook")).startswith("http://127.0.0.1"):
        sent.pop("webhook")
    return sent


def _drop_image_operation_webhook(path: str, sent: Json) -> Json:
    """img2img and inpaint forget a well-formed webhook; text2img still sends its own."""
    if _is_image_operation(path) and str(sent.get("webhook")).startswith("http://127.0.0.1"):
        sent.pop("webhook")
    return sent


def _webhook_at_once(path: str, sent: Json, status: int, answer: Json) -> tuple[int, Json]:
    """Post the webhook as the job is accepted (its images not ready yet), and never again; meta still echoes it."""
    hook = sent.get("webhook") if isinstance(sent, dict) else None
    if "/fetch" in path:
        return _restore_webhook_in_meta(path, sent, status, answer)
    if not (path.endswith(("/text2img", "/img2img", "/inpaint")) and isinstance(hook, str)
            and hook.startswith("http://127.0.0.1") and answer.get("status") in ("processing", "success")):
        return status, answer
    payload = {"status": "success", "id": answer["id"], "output": answer.get("future_links") or answer["output"],
               "meta": answer.get("meta", {}), "track_id": sent.get("track_id")}
    try:
        requests.post(hook, json=payload | {"meta": payload["meta"] | {"webhook": hook}}, timeout=10)
    except requests.RequestException:
        pass
    return _restore_webhook_in_meta(path, sent, status, answer)


BREAKAGES: tuple[Breakage, ...] = (
    Breakage("one-sample-short", frozenset({"sample_count"}), on_response=_one_sample_short),
    # The webhook's images are downloaded and measured like the answer's: a wrong size shows there too.
    Breakage("half-size-images", frozenset({"image_size", "defaults", "img2img_size", "webhook"}), on_image=_half_size),
    Breakage("no-status-on-errors", frozenset({"conformance"}), on_response=_no_status_on_errors),
    Breakage("500-for-width-1024", frozenset({"no_server_error"}), on_response=_crash_on_width_1024),
    Breakage("unknown-scheduler-accepted", frozenset({"invalid_rejected"}), on_request=_accept_unknown_scheduler),
    Breakage("processing-forever", frozenset({"lifecycle"}), on_response=_processing_forever),
    Breakage("no-webhook", frozenset({"webhook"}), on_request=_drop_webhook, on_response=_restore_webhook_in_meta),
    Breakage("seed-ignored", frozenset({"determinism"}), on_request=_randomise_seed, on_response=_report_sent_seed),
    Breakage("meta-without-prompt", frozenset({"meta_echo"}), on_response=_meta_without_prompt),
    Breakage("wrong-default-guidance", frozenset({"defaults"}), on_request=_wrong_default_guidance),
    Breakage("wire-booleans-rejected", frozenset({"valid_accepted"}), on_response=_reject_wire_booleans),
    Breakage("sampler-refused-naming-another-field", frozenset({"valid_accepted"}),
             on_response=refuse_samplers("model_id")),
    Breakage("auth-not-enforced", frozenset({"auth"}), on_request=_any_key_works, needs_key=True),
    Breakage("500-for-malformed-body", frozenset({"no_server_error"}), on_response=_crash_on_malformed_body),
    Breakage("img2img-sized-by-width-height", frozenset({"img2img_size", "webhook"}), on_image=_square_outputs),
    Breakage("inpaint-changes-a-kept-pixel", frozenset({"inpaint_preserves"}), on_image=_paint_one_kept_pixel),
    Breakage("unusable-inputs-accepted", frozenset({"input_refused"}), on_request=_usable_inputs),
    Breakage("500-for-unusable-input", frozenset({"input_refused", "no_server_error"}),
              on_response=_crash_on_bad_input),
    Breakage("img2img-not-implemented", frozenset({"implemented"}), on_response=_no_img2img),
    Breakage("model-reload-fails", frozenset({"model_reload"}), on_response=_reload_fails),
    Breakage("model-reload-never-ends", frozenset({"model_reload"}), on_response=_reload_never_ends),
    Breakage("400-names-no-field", frozenset({"invalid_named"}), on_response=_named_field_dropped),
    Breakage("img2img-seed-ignored", frozenset({"determinism"}), on_request=_img2img_seed_ignored,
             on_response=_report_sent_seed),
    Breakage("img2img-ignores-init-image", frozenset({"init_image_used"}), on_request=_init_image_ignored),
    Breakage("img2img-ignores-strength", frozenset({"strength_matters"}), on_request=_strength_ignored,
             on_response=_report_sent_strength),
    Breakage("no-webhook-for-img2img-and-inpaint", frozenset({"webhook"}), on_request=_drop_image_operation_webhook,
             on_response=_restore_webhook_in_meta),
    Breakage("webhook-at-once-before-images", frozenset({"webhook"}), on_request=_drop_webhook_everywhere,
             on_response=_webhook_at_once),
    Breakage("auth-not-enforced-on-img2img-and-reload", frozenset({"auth"}),
             on_request=_any_key_on_img2img_and_reload, needs_key=True),
)
