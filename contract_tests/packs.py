"""``t2i test --contract PACK``: the suite's semantic checks on a contract pack, through the wire layer.

A pack (OpenAI's Images API, AUTOMATIC1111's) has its own fields, key, answers and
errors; its ``x-t2i-wire`` and ``x-t2i-operation`` hints say what they mean. This
runner builds each generation operation's requests from those meanings (a prompt,
a size, a sample count, a seed, an init image, a mask in the pack's own form),
sends them as the pack says (JSON or a multipart form, the key where it travels),
reads every answer with :class:`~t2i_contract.wire.answers.Answers` and every error
with :func:`~t2i_contract.wire.errors.read_error`, and judges:

=====================  ==================================================================
``pack_conformance``   every answer has a documented status and fits its schema
``pack_size``          images decode and have the size asked for (the init image's for an
                       edit), ``n`` of them when a count is asked for
``pack_forms``         each output form the pack offers works: URLs download as images,
                       base64 decodes
``pack_determinism``   the same seed gives the same pixels, another seed others
``pack_init_image``    the init image reaches the output: two init images, same
                       everything else, give two different outputs
``pack_inpaint``       an edit with a mask keeps every pixel away from the mask's edge
                       (8 px: blending there is the server's choice) and repaints under it
``pack_auth``          a wrong or missing key is refused with 401 on every generation
``pack_errors``        a field that breaks the schema gets the pack's error status, in its
                       error shape, naming that field
=====================  ==================================================================

A check whose subject the pack cannot express (no seed field, a single output form,
no key) judges nothing and shows as SKIP with that reason, never as PASS.
"""
from __future__ import annotations

import base64
import io
import json
import random
from typing import Any, Callable

import requests
from PIL import Image

from t2i_contract.spec import Spec
from t2i_contract.spec.semantics import OperationMap, operation_maps
from t2i_contract.wire.answers import answers_for
from t2i_contract.wire.contract import Wire, wire_of
from t2i_contract.wire.errors import read_error
from t2i_contract.wire.routes import route_table

from .client import NO_JSON, Exchange
from .registry import CheckInfo, define
from .report import Report

__all__ = ["PACK_CHECKS", "is_pack", "run_pack_suite"]

def _define(id: str, promise: str, **words: str) -> CheckInfo:
    return define(id, promise, pack=True, **words)


PACK_CHECKS = {
    "pack_conformance": _define("pack_conformance", "every answer has a documented status and fits its schema",
                               unit="answers judged", nothing="no answer came"),
    "pack_size": _define("pack_size", "images decode, are as many as asked for, and have the size asked for "
                                     "(an edit's: its init image's)",
                        unit="results measured", nothing="no generation answered with images"),
    "pack_forms": _define("pack_forms", "every output form the contract offers works: URLs download as images, "
                                       "base64 decodes", unit="forms tried",
                         nothing="the contract offers one output form and no switch"),
    "pack_determinism": _define("pack_determinism", "the same seed gives the same pixels, another seed others",
                               unit="seed pairs compared", nothing="no operation maps a seed"),
    "pack_init_image": _define("pack_init_image", "an edit's init image reaches its output: two init images, the "
                                                 "rest the same, give different outputs",
                              unit="init-image pairs compared", nothing="no operation takes an init image"),
    "pack_inpaint": _define("pack_inpaint", "an edit with a mask keeps the pixels away from the mask's edge and "
                                           "repaints under it", unit="masked edits compared",
                           nothing="no operation takes a mask"),
    "pack_auth": _define("pack_auth", "a wrong or a missing key is refused with 401 on every generation",
                        unit="refusals tried", nothing="no key given (--key), or the contract's key is optional"),
    "pack_errors": _define("pack_errors", "a field that breaks the schema gets the contract's error status and "
                                         "shape, naming the field", unit="invalid requests judged",
                          nothing="no field with a bound or a list of values to break"),
}

SIZE = (128, 128)
HOLE = (32, 32, 96, 96)
_EDGE = 8
_PROMPT = "a lighthouse on a cliff at dusk"


def is_pack(spec: Spec) -> bool:
    """Is ``spec`` a contract pack (its generations mapped by x-t2i-operation, none of them v6's own)?"""
    from t2i_contract.spec import PARSERS

    maps = operation_maps(spec)
    return any(m.role == "generate" for m in maps.values()) and not any(op in PARSERS for op in maps)


def _png(image: Image.Image) -> bytes:
    data = io.BytesIO()
    image.save(data, format="PNG")
    return data.getvalue()


def _picture(colour: tuple[int, int, int]) -> Image.Image:
    image = Image.new("RGB", SIZE, colour)
    image.paste((20, 160, 60), (0, 96, SIZE[0], SIZE[1]))
    return image


def _mask(form: str) -> Image.Image:
    if form == "alpha":  # transparent where the image is repainted
        mask = Image.new("RGBA", SIZE, (0, 0, 0, 255))
        mask.paste((0, 0, 0, 0), HOLE)
        return mask
    mask = Image.new("RGB", SIZE, (0, 0, 0))
    mask.paste((255, 255, 255), HOLE)
    return mask


class _PackRun:
    """One run of the pack checks against one server."""

    def __init__(self, spec: Spec, base_url: str, key: str | None, timeout: float, headers: dict[str, str],
                 seed: int, report: Report, model_id: str | None = None,
                 on_exchange: Callable[[Exchange], None] | None = None) -> None:
        self.spec, self.base_url, self.key, self.timeout = spec, base_url.rstrip("/"), key, timeout
        self.model_id, self.on_exchange = model_id, on_exchange
        self.wire: Wire = wire_of(spec)
        self.answers = answers_for(spec)
        self.routes = route_table(spec)
        self.report = report
        self.random = random.Random(seed)
        self.http = requests.Session()
        self.http.headers.update(headers)
        self.sent = 0

    # -- sending -----------------------------------------------------------------------
    def _auth(self, key: str | None) -> tuple[dict[str, str], dict[str, Any]]:
        """Headers and body fields carrying ``key`` where the contract says."""
        if key is None:
            return {}, {}
        if self.wire.key_in == "body":
            return {}, {self.wire.key_name: key}
        scheme = self.wire.key_scheme
        if scheme and scheme.lower() == "basic":
            token = base64.b64encode(f"t2i:{key}".encode()).decode("ascii")
            return {self.wire.key_name: f"Basic {token}"}, {}
        return {self.wire.key_name: f"{scheme} {key}" if scheme else key}, {}

    def send(self, op: OperationMap, fields: dict[str, Any], files: dict[str, bytes] | None = None,
             key: str | None | bool = True) -> Exchange:
        """POST one request of ``op`` (``key``: True for the run's key, None for none, else that key)."""
        route = self.routes[op.operation_id]
        url = self.routes.url(self.base_url, op.operation_id)
        headers, key_fields = self._auth(self.key if key is True else (key or None))
        body = key_fields | fields
        shown = body | {name: f"<{len(data)} bytes of PNG>" for name, data in (files or {}).items()}
        exchange = Exchange(route.method, url, op.operation_id, body=shown, headers=headers, key=self.key)
        try:
            if op.body == "multipart":
                form = {name: (json.dumps(v) if isinstance(v, (dict, list)) else str(v)) for name, v in body.items()}
                answer = self.http.post(url, data=form, timeout=self.timeout, headers=headers,
                                        files={name: (f"{name}.png", data, "image/png")
                                               for name, data in (files or {}).items()})
            else:
                answer = self.http.post(url, json=body, timeout=self.timeout, headers=headers)
        except requests.RequestException as exc:
            exchange.error = f"{type(exc).__name__}: {exc}"
            if self.on_exchange is not None:
                self.on_exchange(exchange)
            return exchange
        finally:
            self.sent += 1
        exchange.status, exchange.content, exchange.text = answer.status_code, answer.content, answer.text
        exchange.content_type = answer.headers.get("Content-Type", "")
        try:
            exchange.json = answer.json()
        except ValueError:
            exchange.json = NO_JSON
        self._conform(exchange)
        return exchange

    def _conform(self, exchange: Exchange) -> None:
        if self.on_exchange is not None:
            self.on_exchange(exchange)
        problems = self.spec.responses.check_answer(exchange.operation or "", exchange.status,
                                                    exchange.content_type, exchange.content)
        self.report.exercised("pack_conformance")
        if problems:
            self.report.fail("pack_conformance", "an answer the contract documents", "; ".join(problems),
                             exchange, counted=False)

    # -- building requests from meanings -------------------------------------------------
    def request_for(self, op: OperationMap, **meanings: Any) -> tuple[dict[str, Any], dict[str, bytes]]:
        """Fields and files for ``op`` from generic meanings (prompt, size, samples, seed, init_image, mask)."""
        fields: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        for meaning, value in meanings.items():
            if meaning in ("width", "height") and "size" in op.semantics and "width" not in op.semantics:
                continue
            name = op.field(meaning)
            if name is None or value is None:
                continue
            if isinstance(value, Image.Image):
                data = _png(value)
                if op.body == "multipart":
                    files[name] = data
                else:
                    encoded = base64.b64encode(data).decode("ascii")
                    fields[name] = [encoded] if self._is_array(op, name) else encoded
            else:
                fields[name] = value
        if "width" in meanings and "size" in op.semantics and "width" not in op.semantics:
            fields[op.semantics["size"]] = f"{meanings['width']}x{meanings['height']}"
        form = self._base64_form(op)
        if form is not None:
            fields.update(form)
        return fields, files

    def _is_array(self, op: OperationMap, name: str) -> bool:
        for field in self.spec.request_fields(op.operation_id):
            if field.name == name:
                kinds = field.schema.get("type")
                return "array" in (kinds if isinstance(kinds, list) else [kinds]) or "items" in field.schema
        return False

    def _base64_form(self, op: OperationMap) -> dict[str, Any] | None:
        """Ask for base64 where the contract lets the request choose (the suite compares pixels)."""
        output, name = self.wire.output, op.field("output_form")
        if name is None or "base64" not in output.forms:
            return None
        if output.switch:
            return {name: output.switch.get("base64")}
        return {name: True}

    def images(self, exchange: Exchange) -> list[Image.Image] | None:
        """The answer's images decoded (URLs downloaded), or None when it is no success."""
        reading = self.answers.read(exchange.json if exchange.json is not NO_JSON else None)
        if exchange.status != 200 or reading.branch != "success":
            return None
        decoded = []
        for image in reading.images:
            data = self._download(image) if isinstance(image, str) and image.startswith("http") else \
                base64.b64decode(image) if isinstance(image, str) else b""
            try:
                decoded.append(Image.open(io.BytesIO(data)).convert("RGB"))
            except Exception:  # noqa: BLE001 - anything Pillow cannot read is "not an image"
                return []
        return decoded

    def _download(self, url: str) -> bytes:
        try:
            answer = self.http.get(url, timeout=self.timeout)
        except requests.RequestException:
            return b""
        return answer.content if answer.status_code == 200 else b""

    def generations(self) -> list[OperationMap]:
        return [m for m in operation_maps(self.spec).values() if m.role == "generate"]

    def size_for(self, op: OperationMap) -> tuple[int, int]:
        """A size the operation allows: the smallest WxH its size field lists, else a small non-square one."""
        name = op.field("size")
        if name is not None:
            values = _enum_values(self.spec, op.operation_id, name)
            sizes = sorted((int(w), int(h)) for w, _, h in (v.partition("x") for v in values)
                           if w.isdigit() and h.isdigit())
            return sizes[0] if sizes else (256, 256)
        return (128, 96)


def _enum_values(spec: Spec, operation_id: str, name: str) -> list[str]:
    for field in spec.request_fields(operation_id):
        if field.name != name:
            continue
        found = list(field.schema.get("enum") or [])
        for option in field.schema.get("anyOf") or []:
            found += list(spec.resolve(option).get("enum") or [])
        return [str(v) for v in found]
    return []


def _bound_breaker(spec: Spec, op: OperationMap) -> tuple[str, Any] | None:
    """A field and a value that break its schema: past a maximum, outside a list of values, or of another type."""
    fields = list(spec.request_fields(op.operation_id))
    for field in fields:
        if isinstance(field.schema.get("maximum"), (int, float)) and not isinstance(field.schema["maximum"], bool):
            return field.name, int(field.schema["maximum"]) + 1
    for field in fields:
        if field.schema.get("enum"):
            return field.name, "not-one-of-the-values"
    for field in fields:
        kinds = field.schema.get("type")
        if kinds == "integer" or (isinstance(kinds, list) and "integer" in kinds):
            return field.name, "not-a-number"
    return None


def _base(run: _PackRun, op: OperationMap, **meanings: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"prompt": _PROMPT, "model": run.model_id}
    if op.kind in ("img2img", "variation", "inpaint"):
        values["init_image"] = _picture((200, 40, 40))
    else:
        values["width"], values["height"] = run.size_for(op)
    return values | meanings


def _size_and_count(run: _PackRun) -> None:
    for op in run.generations():
        meanings = _base(run, op)
        count = 2 if op.field("samples") else 1
        if count == 2:
            meanings["samples"] = 2
        exchange = run.send(op, *run.request_for(op, **meanings))
        images = run.images(exchange)
        run.report.exercised("pack_size")
        expected = SIZE if "init_image" in meanings else (meanings["width"], meanings["height"])
        if images is None or len(images) != count or any(image.size != expected for image in images):
            seen = "no success answer" if images is None else \
                f"{len(images)} image(s) of {[image.size for image in images]}"
            run.report.fail("pack_size", f"{count} decodable image(s) of {expected[0]}x{expected[1]}", seen,
                            exchange, counted=False)


def _forms(run: _PackRun) -> None:
    output = run.wire.output
    if len(output.forms) < 2 or not output.switch:
        return
    for op in run.generations()[:1]:
        for form in output.forms:
            fields, files = run.request_for(op, **_base(run, op))
            fields[op.field("output_form") or output.switch["field"]] = output.switch[form]
            exchange = run.send(op, fields, files)
            reading = run.answers.read(exchange.json if exchange.json is not NO_JSON else None)
            images = run.images(exchange)
            run.report.exercised("pack_forms")
            urls = [image for image in reading.images if isinstance(image, str) and image.startswith("http")]
            right_form = bool(urls) if form == "url" else bool(reading.images) and not urls
            if not images or not right_form:
                run.report.fail("pack_forms", f"images written as {form} that decode", f"{len(urls)} URL(s) among "
                                f"{len(reading.images)} image(s), {len(images or [])} decoded", exchange,
                                counted=False)


def _determinism(run: _PackRun) -> None:
    for op in run.generations():
        if op.field("seed") is None:
            continue
        seed = run.random.randrange(1, 2**31)
        outputs = []
        for value in (seed, seed, seed + 1):
            exchange = run.send(op, *run.request_for(op, **_base(run, op, seed=value)))
            outputs.append((exchange, run.images(exchange)))
        run.report.exercised("pack_determinism")
        (first, a), (_, b), (third, c) = outputs
        if not a or not b or not c:
            run.report.fail("pack_determinism", "images for the same seed twice and another seed",
                            "no images came", first, counted=False)
        elif a[0].tobytes() != b[0].tobytes():
            run.report.fail("pack_determinism", f"the same pixels for seed {seed} twice", "different pixels",
                            first, counted=False)
        elif a[0].tobytes() == c[0].tobytes():
            run.report.fail("pack_determinism", f"other pixels for seed {seed + 1}", "identical pixels", third,
                            counted=False)


def _init_image(run: _PackRun) -> None:
    for op in run.generations():
        if op.field("init_image") is None:
            continue
        results = []
        for colour in ((200, 40, 40), (30, 60, 210)):
            meanings = _base(run, op, init_image=_picture(colour))
            if op.field("seed"):
                meanings["seed"] = 11
            if op.field("strength"):
                meanings["strength"] = 0.3
            exchange = run.send(op, *run.request_for(op, **meanings))
            results.append((exchange, run.images(exchange)))
        run.report.exercised("pack_init_image")
        (first, a), (_, b) = results
        if not a or not b or a[0].tobytes() == b[0].tobytes():
            run.report.fail("pack_init_image", "different outputs for a red and a blue init image",
                            "no images came" if not a or not b else "identical outputs: the init image was ignored",
                            first, counted=False)


def _inpaint(run: _PackRun) -> None:
    for op in run.generations():
        if op.field("mask") is None:
            continue
        source = _picture((200, 40, 40))
        meanings = _base(run, op, init_image=source, mask=_mask(op.mask_form))
        if op.field("strength"):
            meanings["strength"] = 0.95
        exchange = run.send(op, *run.request_for(op, **meanings))
        images = run.images(exchange)
        run.report.exercised("pack_inpaint")
        if not images:
            run.report.fail("pack_inpaint", "an edited image", "no images came", exchange, counted=False)
            continue
        kept, changed = _compare_mask(source, images[0])
        if not kept or not changed:
            run.report.fail("pack_inpaint", "the pixels away from the mask kept and those under it repainted "
                            f"({op.mask_form} marks what is repainted; {_EDGE} px at the edge are not judged)",
                            ("pixels outside the mask changed" if not kept else "nothing under the mask changed"),
                            exchange, counted=False)


def _compare_mask(before: Image.Image, after: Image.Image) -> tuple[bool, bool]:
    left, top, right, bottom = HOLE
    kept, changed = True, False
    for x in range(0, SIZE[0], 4):
        for y in range(0, SIZE[1], 4):
            near = left - _EDGE <= x < right + _EDGE and top - _EDGE <= y < bottom + _EDGE
            inside = left + _EDGE <= x < right - _EDGE and top + _EDGE <= y < bottom - _EDGE
            same = before.getpixel((x, y)) == after.getpixel((x, y))
            kept &= near or same
            changed |= inside and not same
    return kept, changed


def _auth(run: _PackRun) -> None:
    if run.key is None or run.wire.key_optional:
        return
    for op in run.generations():
        for key, what in (("t2i-wrong-key", "a wrong key"), (None, "no key")):
            exchange = run.send(op, *run.request_for(op, **_base(run, op)), key=key)
            run.report.exercised("pack_auth")
            if exchange.status != 401:
                run.report.fail("pack_auth", f"401 for {what}", exchange.response_summary(), exchange, counted=False)


def _errors(run: _PackRun) -> None:
    for op in run.generations():
        broken = _bound_breaker(run.spec, op)
        if broken is None:
            continue
        name, value = broken
        fields, files = run.request_for(op, **_base(run, op))
        exchange = run.send(op, fields | {name: value}, files)
        run.report.exercised("pack_errors")
        reading = read_error(run.wire.error, exchange.json if exchange.json is not NO_JSON else None)
        if exchange.status != run.wire.error.status or not reading.message or name not in reading.fields:
            run.report.fail("pack_errors", f"{run.wire.error.status} in the contract's error shape naming {name} "
                            f"(sent {name}={value!r})", exchange.response_summary(), exchange, counted=False)


def run_pack_suite(spec: Spec, base_url: str, *, key: str | None, timeout: float, headers: dict[str, str],
                   seed: int, report: Report, progress: Callable[[str], None] | None = None,
                   model_id: str | None = None, on_exchange: Callable[[Exchange], None] | None = None) -> Report:
    """Run every pack check against ``base_url``; the report holds the pack's checks only.

    ``model_id`` goes in the model field of operations that have one (``--model-id``); without
    it the pack's own default applies (OpenAI's ``dall-e-2``). ``on_exchange`` sees every
    request and its answer as it comes (``t2i drift`` observes them).
    """
    run = _PackRun(spec, base_url, key, timeout, headers, seed, report, model_id, on_exchange)
    try:
        for step in (_size_and_count, _forms, _determinism, _init_image, _inpaint, _auth, _errors):
            if progress is not None:
                progress(f"{step.__name__.strip('_')}: {spec.path.name if spec.path else 'the contract'}")
            step(run)
        for op in operation_maps(spec).values():
            if op.role in ("models", "progress"):
                url = run.routes.url(run.base_url, op.operation_id)
                headers_, _ = run._auth(run.key)
                answer = run.http.get(url, timeout=timeout, headers=headers_)
                exchange = Exchange("GET", url, op.operation_id, status=answer.status_code,
                                    content_type=answer.headers.get("Content-Type", ""), content=answer.content,
                                    text=answer.text)
                try:
                    exchange.json = answer.json()
                except ValueError:
                    exchange.json = NO_JSON
                run._conform(exchange)
    finally:
        run.http.close()
    report.notes.append(f"{run.sent} requests sent to the {spec.document.get('info', {}).get('title', '')} pack")
    return report.finish()
