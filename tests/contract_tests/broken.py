"""Deliberately broken servers: WSGI middleware around the real mock that breaks one thing.

Each :class:`Breakage` rewrites the JSON request body before the mock sees it,
the JSON answer after, or the PNG bytes of image downloads. The table
:data:`BREAKAGES` names, for each, the checks it must make fail; most break
exactly one check, and where a breakage is visible to a second check by nature
(half-size images are also wrong defaults) the table says so.
"""
from __future__ import annotations

import io
import json
import random
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from PIL import Image

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


class BrokenServer:
    """WSGI middleware applying one :class:`Breakage` to ``app``."""

    def __init__(self, app: Callable[..., Any], breakage: Breakage) -> None:
        self.app, self.breakage = app, breakage

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
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


def _restore_webhook_in_meta(path: str, sent: Json, status: int, answer: Json) -> tuple[int, Json]:
    if isinstance(sent, dict) and sent.get("webhook") and isinstance(answer.get("meta"), dict):
        answer["meta"]["webhook"] = sent["webhook"]
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


VALID_KEY = "k-valid"


def _any_key_works(path: str, sent: Json) -> Json:
    if isinstance(sent.get("key"), str) and sent["key"]:
        sent["key"] = VALID_KEY
    return sent


def _crash_on_malformed_body(path: str, sent: Json, status: int, answer: Json) -> tuple[int, Json]:
    return (500, {"status": "error", "message": "Internal server error. Please try again."}) \
        if sent is None and status == 400 else (status, answer)


BREAKAGES: tuple[Breakage, ...] = (
    Breakage("one-sample-short", frozenset({"sample_count"}), on_response=_one_sample_short),
    Breakage("half-size-images", frozenset({"image_size", "defaults"}), on_image=_half_size),
    Breakage("no-status-on-errors", frozenset({"conformance"}), on_response=_no_status_on_errors),
    Breakage("500-for-width-1024", frozenset({"no_server_error"}), on_response=_crash_on_width_1024),
    Breakage("unknown-scheduler-accepted", frozenset({"invalid_rejected"}), on_request=_accept_unknown_scheduler),
    Breakage("processing-forever", frozenset({"lifecycle"}), on_response=_processing_forever),
    Breakage("no-webhook", frozenset({"webhook"}), on_request=_drop_webhook, on_response=_restore_webhook_in_meta),
    Breakage("seed-ignored", frozenset({"determinism"}), on_request=_randomise_seed, on_response=_report_sent_seed),
    Breakage("meta-without-prompt", frozenset({"meta_echo"}), on_response=_meta_without_prompt),
    Breakage("wrong-default-guidance", frozenset({"defaults"}), on_request=_wrong_default_guidance),
    Breakage("wire-booleans-rejected", frozenset({"valid_accepted"}), on_response=_reject_wire_booleans),
    Breakage("auth-not-enforced", frozenset({"auth"}), on_request=_any_key_works, needs_key=True),
    Breakage("500-for-malformed-body", frozenset({"no_server_error"}), on_response=_crash_on_malformed_body),
)
