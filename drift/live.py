"""``t2i drift``: send generated requests to a live server and report how it departs from the spec.

:func:`run_drift` sends ``samples`` requests: first a probe with only the
required fields (so every default is exercised), then bodies drawn from
``contract_tests.generation`` (mostly valid, some invalid). Processing answers
are followed through both fetch forms until success. Every answer goes to an
:class:`~drift.observe.Observer`; on top of that it checks behaviour:

* ``default-not-applied``: a field the request omitted is echoed in ``meta``
  with another value than the spec's default, or (for ``width``, ``height`` and
  ``samples``) the images themselves disagree with the default;
* ``valid-request-rejected`` / ``invalid-request-accepted``;
* ``generation-never-finished``, ``request-failed`` (no answer, or not JSON).
"""
from __future__ import annotations

import base64
import io
import time
from typing import Any
from urllib.parse import quote

import requests

from t2i_contract.spec import Document

from .errors import DocumentError, UpstreamError
from .findings import Finding
from .observe import Observer
from .settings import DriftSettings

__all__ = ["DriftSettings", "run_drift"]

# Longest pause between two polls of a processing generation, whatever its eta says.
_MAX_POLL_PAUSE = 2.0
# A busy server (429) is asked again this many times, waiting its retry_after up to this long.
_BUSY_RETRIES = 3
_MAX_BUSY_PAUSE = 10.0


class _Run:
    """The state of one drift run: the HTTP session, the observer, and the request defaults to check."""

    def __init__(self, settings: DriftSettings, document: Document) -> None:
        from t2i_contract.contract_tests.generation import DEFAULT_KEY

        self.settings = settings
        self.document = document
        self.observer = Observer(document)
        self.http = requests.Session()
        self.base = settings.base_url.rstrip("/")
        self.key = settings.key or DEFAULT_KEY
        self.images_checked = 0
        self.ops = {op_id: (route, pointer) for route, _, pointer in document.operation_pointers()
                    if (op_id := document.get(pointer).get("operationId"))}
        request = document.view(f"{self.ops['text2img'][1]}/requestBody/content/application~1json/schema")
        self.defaults = {name: (prop, document.view(prop).get("default")) for name, prop in request.properties.items()
                         if "default" in document.view(prop).keywords}

    # -- HTTP ------------------------------------------------------------
    def call(self, op_id: str, body: Any, path_id: Any = None) -> tuple[int, Any] | None:
        """POST one call and record its answer; a 429 is retried after ``retry_after`` (at most 10 s)."""
        route, pointer = self.ops[op_id]
        # The id comes from the server under test: quoted, so it can never add path segments.
        path = route.replace("{id}", quote(str(path_id), safe="")) if path_id is not None else route
        label = f"POST {route}"
        for attempt in range(_BUSY_RETRIES + 1):
            try:
                response = self.http.post(self.base + path, json=body, timeout=self.settings.timeout)
            except requests.RequestException as exc:
                self.fail(pointer, f"{label}: no answer ({type(exc).__name__}: {exc})")
                return None
            try:
                data = response.json()
            except ValueError:
                self.fail(pointer, f"{label} answered HTTP {response.status_code} with a body that is not JSON: "
                                   f"{response.text[:80]!r}")
                return None
            self.observer.record(pointer, response.status_code, data, label)
            if response.status_code != 429 or attempt == _BUSY_RETRIES:
                break
            wait = data.get("retry_after") if isinstance(data, dict) else None
            time.sleep(min(float(wait), _MAX_BUSY_PAUSE) if isinstance(wait, (int, float)) and wait >= 0 else 1.0)
        return response.status_code, data

    def fail(self, pointer: str, message: str) -> None:
        self.observer.problem("request-failed", "error", pointer, message)

    # -- one generation --------------------------------------------------
    def generate(self, body: dict[str, Any], index: int) -> None:
        answer = self.call("text2img", body)
        if answer is None:
            return
        code, data = answer
        status = data.get("status") if isinstance(data, dict) else None
        request_pointer = f"{self.ops['text2img'][1]}/requestBody"
        if status not in ("success", "processing"):
            message = data.get("message") if isinstance(data, dict) else data
            self.observer.problem("valid-request-rejected", "error", request_pointer,
                                  f"a body the spec accepts was answered HTTP {code}: {str(message)[:120]}")
            return
        deadline = time.monotonic() + self.settings.max_wait
        while status == "processing":
            if time.monotonic() > deadline:
                self.observer.problem("generation-never-finished", "error", self.ops["fetchById"][1],
                                      f"still processing after {self.settings.max_wait:g}s")
                return
            eta = data.get("eta") if isinstance(data.get("eta"), (int, float)) else 1.0
            time.sleep(min(max(float(eta), 0.05), _MAX_POLL_PAUSE))
            if index % 2 == 0:
                answer = self.call("fetchById", {"key": self.key}, path_id=data.get("id"))
            else:
                answer = self.call("fetch", {"key": self.key, "request_id": data.get("id")})
            if answer is None:
                return
            code, data = answer
            status = data.get("status") if isinstance(data, dict) else None
        if status == "success":
            self.check_defaults(body, data)

    def check_defaults(self, body: dict[str, Any], data: dict[str, Any]) -> None:
        meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
        for name, (prop, default) in self.defaults.items():
            if name in body or default is None or name not in meta:
                continue
            if meta[name] != default:
                self.departs(name, prop, f"omitted, so the default {default!r} applies, but meta.{name} is "
                                         f"{meta[name]!r}")
        output = data.get("output") if isinstance(data.get("output"), list) else []
        if "samples" not in body and "samples" in self.defaults and len(output) != self.defaults["samples"][1]:
            self.departs("samples", self.defaults["samples"][0],
                         f"omitted, so {self.defaults['samples'][1]} image(s) are due, but output has {len(output)}")
        if output and ("width" not in body or "height" not in body) and self.images_checked < self.settings.image_checks:
            self.images_checked += 1
            self.check_image(body, output[0])

    def check_image(self, body: dict[str, Any], item: str) -> None:
        size = self.image_size(item)
        if size is None:
            return
        scale = 2 if str(body.get("upscale", "")).lower() in ("true", "yes") or body.get("upscale") is True else 1
        for axis, actual in zip(("width", "height"), size):
            if axis in body or axis not in self.defaults:
                continue
            expected = self.defaults[axis][1] * scale
            if actual != expected:
                self.departs(axis, self.defaults[axis][0],
                             f"omitted, so images should be {expected}px {'wide' if axis == 'width' else 'high'}, "
                             f"but the image is {actual}px")

    def image_size(self, item: str) -> tuple[int, int] | None:
        from PIL import Image, UnidentifiedImageError

        try:
            if item.startswith(("http://", "https://")):
                response = self.http.get(item, timeout=self.settings.timeout)
                response.raise_for_status()
                raw = response.content
            else:
                raw = base64.b64decode(item, validate=True)
            with Image.open(io.BytesIO(raw)) as image:
                return image.size
        except (requests.RequestException, ValueError, UnidentifiedImageError) as exc:
            self.fail(self.ops["text2img"][1], f"could not read the output image {item[:80]!r}: {exc}")
            return None

    def departs(self, name: str, prop: str, message: str) -> None:
        self.observer.problem("default-not-applied", "error", f"{prop}/default", f"{name}: {message}")

    def reject_expected(self, body: Any) -> None:
        answer = self.call("text2img", body)
        if answer is None:
            return
        code, data = answer
        if isinstance(data, dict) and data.get("status") in ("success", "processing"):
            self.observer.problem("invalid-request-accepted", "error", f"{self.ops['text2img'][1]}/requestBody",
                                  f"a body the spec rejects was answered {data.get('status')!r} (HTTP {code})")


def run_drift(settings: DriftSettings) -> list[Finding]:
    """Run the requests and return every finding (see the module docstring)."""
    from t2i_contract.contract_tests.generation import draw, invalid_bodies, minimal_body, valid_bodies

    from t2i_contract.spec import SpecError, load_spec

    try:
        spec = load_spec(settings.spec_path)
    except SpecError as exc:
        raise DocumentError(str(exc), str(settings.spec_path)) from None
    run = _Run(settings, Document(spec.document, str(spec.path)))
    invalid_count = round(settings.samples * settings.invalid_ratio)
    valid_count = settings.samples - invalid_count
    probe = minimal_body(spec, model_id=settings.model_id, key=run.key)
    valid = [probe] + draw(valid_bodies(spec, profile=settings.profile, model_id=settings.model_id,
                                        loras=settings.loras, key=run.key), max(valid_count - 1, 0),
                           seed=settings.seed)
    invalid = draw(invalid_bodies(spec, model_id=settings.model_id, key=run.key), invalid_count,
                   seed=settings.seed) if invalid_count else []
    with run.http:
        try:
            run.http.options(run.base, timeout=settings.timeout)  # any HTTP answer will do
        except requests.RequestException as exc:
            raise UpstreamError(f"cannot reach {settings.base_url}: {exc}", settings.base_url) from None
        for index, body in enumerate(valid[:valid_count]):
            run.generate(body, index)
        for body in invalid:
            run.reject_expected(body)
    return run.observer.findings()

