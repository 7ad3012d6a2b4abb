"""The operations of a contract pack, served by any server through its one :class:`~.service.Service`.

A pack's operations are not v6's: OpenAI's ``createImage`` takes ``n`` and ``size``
with a Bearer key and answers ``{"created", "data": [...]}``; AUTOMATIC1111's
``txt2img`` takes ``batch_size`` and ``cfg_scale`` and answers base64 ``images``
with an ``info`` string. The pipeline hands every operation whose
``x-t2i-operation`` role is ``generate``, ``models`` or ``progress`` and which has no
v6 parser (``spec.PARSERS``, by operationId: a pack never reuses v6's operationIds)
to :class:`GenericOperations`, which

1. reads the body as JSON or as a multipart form (files as bytes), as the hint says;
2. reads the key from where the contract says it travels (``x-t2i-wire.key``);
3. validates the fields against the pack's own schema;
4. maps them onto the toolkit's generic request (``wire.requests``), loads input
   images once under the server's URL policy, and submits it to the service;
5. waits for the job when the contract is synchronous (``lifecycle.kind: sync``);
6. answers in the pack's shape (``wire.answers``); errors are written in the pack's
   error shape by the pipeline (``wire.errors``).

An edit with a mask is an inpaint; OpenAI's edits without a ``mask`` repaint the
transparent part of the image, as the official API does (the mask is made from the
image's alpha channel), and the whole image when it has none.
"""
from __future__ import annotations

import base64
import dataclasses
import io
from typing import TYPE_CHECKING, Any

from PIL import Image
from werkzeug.formparser import parse_form_data

from t2i_contract.spec import (PARSERS, GenerationRequest, Problem, RequestError, ValidationError, load_spec,
                               parse_json_body)
from t2i_contract.wire.answers import FAILED, PROCESSING
from t2i_contract.wire.contract import wire_of
from t2i_contract.wire.errors import render_error
from t2i_contract.spec.semantics import OperationMap, operation_maps
from t2i_contract.wire.prefer import Preferences
from t2i_contract.wire.requests import as_inpaint, generation_request, key_of
from t2i_contract.wire.validation import request_problems

from .errors import AuthError, ProtocolError, RequestRejected
from .inputs import load_input_images
from .intake import is_json, read_body
from .urls import UrlPolicy

if TYPE_CHECKING:
    from .pipeline import Answer, Pipeline
    from .service import Call

__all__ = ["GENERIC_ROLES", "GenericOperations"]

GENERIC_ROLES = frozenset({"generate", "models", "progress"})
_MULTIPART = "multipart/form-data"


class GenericOperations:
    """The pack operations of one pipeline's document."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.spec = pipeline.spec
        self.wire = wire_of(self.spec)
        # v6's own operations keep their typed parsers (spec.PARSERS): a pack's operationIds never reuse them
        self.hints = {op_id: hints for op_id, hints in operation_maps(self.spec).items()
                      if hints.role in GENERIC_ROLES and op_id not in PARSERS}

    def handles(self, operation_id: str) -> bool:
        return operation_id in self.hints

    def run(self, call: Call, answer: type[Answer]) -> Answer:
        hints = self.hints[call.operation_id]
        if hints.role == "models":
            self._check_key(call, None)
            ids = self.pipeline.service.models(call)
            schema = self._answer_schema(call.operation_id)
            items = self.spec.flatten(schema.get("items") or {}) if schema.get("type") == "array" else {}
            return answer(200, [_shaped(self.spec, items, model_id=model_id) for model_id in ids])  # type: ignore[arg-type]
        if hints.role == "progress":
            self._check_key(call, None)
            fraction, eta = self.pipeline.service.progress(call)
            return answer(200, _shaped(self.spec, self._answer_schema(call.operation_id),
                                       numbers={"progress": fraction, "eta_relative": eta}))
        return self._generate(call, hints, answer)

    def _answer_schema(self, operation_id: str) -> dict[str, Any]:
        """The schema of the operation's 200 JSON answer."""
        responses = self.spec.operation(operation_id)[2].get("responses") or {}
        ok = self.spec.resolve(responses.get("200") or {})
        schema = ((ok.get("content") or {}).get("application/json") or {}).get("schema") or {}
        return self.spec.resolve(schema)

    # -- a generation ------------------------------------------------------------------
    def _generate(self, call: Call, hints: OperationMap, answer: type[Answer]) -> Answer:
        fields, files = self._read(call, hints)
        key = self._check_key(call, fields)
        problems = request_problems(self.spec, call.operation_id, fields | {name: "" for name in files})
        if problems:
            raise ValidationError(problems)
        values = fields | files
        service = self.pipeline.service
        request = generation_request(self.spec, hints, values, key=key or "", wire=self.wire,
                                     default_model=service.default_model())
        request = self._load_inputs(call, hints, request)  # a pack's images come inline: nothing is fetched
        service.check(call, request)  # after the inputs: an edit without a mask may have become an inpaint
        if not self.wire.lifecycle.is_async:
            call.prefs = Preferences(status="success")  # the answer is the result: never "processing"
        try:
            view = service.submit(call, request)
        except (RequestError, ProtocolError) as refused:  # a server's refusal names v6's field: name the pack's
            refused.problems = tuple(dataclasses.replace(p, field=self._pack_field(hints, request, p.field))
                                     for p in refused.problems)
            raise
        if view.state == PROCESSING and not self.wire.lifecycle.is_async:
            view = service.settle(call, view)
        if view.state == FAILED:
            return answer(view.error_status, render_error(self.wire, self.pipeline.answers.failed(view)))
        echo = {name: value for name, value in values.items() if not isinstance(value, (bytes, bytearray))}
        return answer(200, self.pipeline.answers.result(view, echo))

    @staticmethod
    def _pack_field(hints: OperationMap, request: GenerationRequest, field: str) -> str:
        """The pack's name for a field of the generic request (v6's ``model_id`` is OpenAI's ``model``)."""
        v6 = operation_maps(load_spec()).get(request.OPERATION)
        meaning = next((m for m, name in (v6.semantics if v6 else {}).items() if name == field), None)
        if meaning in ("width", "height") and hints.field(meaning) is None:
            meaning = "size"
        return (hints.field(meaning) if meaning else None) or field

    def _read(self, call: Call, hints: OperationMap) -> tuple[dict[str, Any], dict[str, bytes]]:
        """The body's fields, and its files (multipart only)."""
        environ = call.environ
        limit = self.pipeline.limits.of(call.operation_id)
        content_type = environ.get("CONTENT_TYPE") or ""
        if hints.body == "multipart" and not is_json(content_type):
            if not content_type.lower().startswith(_MULTIPART):
                raise RequestRejected("Content-Type", "content_type",
                                      f"Content-Type must be {_MULTIPART}, got {content_type!r}", content_type)
            length = environ.get("CONTENT_LENGTH") or ""
            if length.isdigit() and int(length) > limit:
                raise RequestRejected("Content-Length", "max_size",
                                      f"request body must be at most {limit} bytes, got {length}", int(length))
            _, form, uploads = parse_form_data(environ, max_content_length=limit, silent=False)
            fields: dict[str, Any] = {name: _typed(self.spec, call.operation_id, name, value)
                                      for name, value in form.items()}
            try:
                files = {name: upload.read(limit + 1) for name, upload in uploads.items()}
            finally:
                for upload in uploads.values():
                    upload.close()
            return fields, files
        call.raw = read_body(environ, limit)
        body = parse_json_body(call.raw)
        call.body = body
        return body, {}

    def _check_key(self, call: Call, body: dict[str, Any] | None) -> str | None:
        headers = {name[5:].replace("_", "-").lower(): value for name, value in call.environ.items()
                   if name.startswith("HTTP_")}
        key = key_of(self.wire, headers, body)
        call.state["key"] = key  # the server's journal and ownership read it from here, wherever it travelled
        keys = self.pipeline.keys
        if keys and (key is None or not keys.matches(key)):
            raise AuthError()
        return key

    def _load_inputs(self, call: Call, hints: OperationMap, request: GenerationRequest) -> GenerationRequest:
        """Load the init image and mask once, under the URL policy, naming the pack's own fields."""
        init_field, mask_field = hints.field("init_image"), hints.field("mask")
        values: dict[str, Any] = {}
        if init_field and getattr(request, "init_image", ""):
            values[init_field] = request.init_image  # type: ignore[attr-defined]
        if mask_field and getattr(request, "mask_image", ""):
            values[mask_field] = request.mask_image  # type: ignore[attr-defined]
        if not values:
            if hints.kind in ("img2img", "inpaint", "variation"):
                name = init_field or "image"
                raise ValidationError([Problem(name, "required", f"{name} is required", None)])
            return request
        limits = {name: self.spec.input_image_limits(call.operation_id, name) for name in values}
        loaded = load_input_images(values, policy=self.pipeline.url_policy or UrlPolicy(), limits=limits,
                                   mask=(mask_field, init_field) if mask_field and init_field else None)
        init = loaded[init_field]  # type: ignore[index]
        call.inputs = {"init_image": init.image}
        call.input_data = {"init_image": init.data}
        replaced: dict[str, Any] = {"width": init.image.size[0], "height": init.image.size[1]}
        if mask_field in loaded and hints.mask_form == "white":
            call.inputs["mask_image"] = loaded[mask_field].image  # type: ignore[index]
            call.input_data["mask_image"] = loaded[mask_field].data  # type: ignore[index]
        elif mask_field in loaded or (mask_field and _transparent(init.image)):
            # a mask whose transparent pixels are repainted (OpenAI's), or an edit without a mask, which
            # repaints the image's own transparent part: the servers get the white-means-repaint form
            source = loaded[mask_field].image if mask_field in loaded else init.image  # type: ignore[index]
            mask, data = _white_where_transparent(source)
            call.inputs["mask_image"], call.input_data["mask_image"] = mask, data
            encoded = base64.b64encode(data).decode("ascii")
            request = as_inpaint(request, encoded) if not hasattr(request, "mask_image") else request
            replaced["mask_image"] = encoded
        return dataclasses.replace(request, **replaced)


def _white_where_transparent(image: Image.Image) -> tuple[Image.Image, bytes]:
    """A white-means-repaint mask (and its PNG) from an image's alpha channel."""
    mask = image.convert("RGBA").getchannel("A").point(lambda a: 255 if a < 128 else 0).convert("RGB")
    data = io.BytesIO()
    mask.save(data, format="PNG")
    return mask, data.getvalue()


def _transparent(image: Image.Image) -> bool:
    """Has ``image`` any pixel less than half opaque?"""
    if image.mode not in ("RGBA", "LA", "PA") and "transparency" not in image.info:
        return False
    low, _ = image.convert("RGBA").getchannel("A").getextrema()
    return low < 128


def _shaped(spec: Any, schema: dict[str, Any], *, model_id: str | None = None,
            numbers: dict[str, float] | None = None) -> Any:
    """An object of ``schema`` with what the server knows filled in and every other property empty.

    A model listing writes the model's id in each text property (AUTOMATIC1111's ``title``,
    ``model_name`` and ``filename``) and ``null`` where the schema allows it; a
    progress answer writes its numbers where their names are properties.
    """
    schema = spec.flatten(schema) if schema else {}
    shaped: dict[str, Any] = {}
    for name, node in (schema.get("properties") or {}).items():
        node = spec.resolve(node)
        kinds = node.get("type") if isinstance(node.get("type"), list) else [node.get("type")]
        options = [spec.resolve(o).get("type") for o in node.get("anyOf") or []]
        nullable = "null" in kinds or "null" in options
        if numbers and name in numbers:
            shaped[name] = numbers[name]
        elif model_id is not None and ("string" in kinds or "string" in options) and not nullable:
            shaped[name] = model_id
        elif nullable:
            shaped[name] = None
        else:
            shaped[name] = {"string": "", "integer": 0, "number": 0.0, "boolean": False, "array": [],
                            "object": {}}.get(next((k for k in kinds + options if k), "object"), None)
    return shaped


def _typed(spec: Any, operation_id: str, name: str, value: str) -> Any:
    """A form field's text as the type its schema gives it (forms carry only text)."""
    for field in spec.request_fields(operation_id):
        if field.name != name:
            continue
        kind = field.schema.get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        try:
            if "integer" in kinds and value.lstrip("-").isdigit():
                return int(value)
            if "number" in kinds:
                return float(value)
        except ValueError:
            return value
        if "boolean" in kinds and value.lower() in ("true", "false"):
            return value.lower() == "true"
    return value
