"""A contract pack's generation request, read as the toolkit's generic one.

Servers serve every contract with one :class:`~t2i_contract.spec.GenerationRequest`
underneath: :func:`generation_request` takes an operation's validated request
fields (a JSON body, or the fields and files of a multipart form) and its
``x-t2i-operation`` semantics, and gives the typed request the servers' services
take (text2img, img2img or inpaint). What the pack leaves unsaid takes the
pack's own schema default first, then the toolkit's. The key comes from where the
contract says it travels (:func:`key_of`).
"""
from __future__ import annotations

import base64
import dataclasses
from typing import Any, Mapping

from t2i_contract.spec import (GenerationRequest, Img2ImgRequest, InpaintRequest, Problem, Spec, Text2ImgRequest,
                               ValidationError)
from t2i_contract.spec.semantics import OperationMap

from .contract import Wire

__all__ = ["as_inpaint", "generation_request", "key_of", "schema_defaults"]

_KINDS: dict[str, type[GenerationRequest]] = {
    "text2img": Text2ImgRequest, "img2img": Img2ImgRequest, "variation": Img2ImgRequest, "inpaint": InpaintRequest,
}
VARIATION_STRENGTH = 0.75
"""How far a variation (an operation with an image and no prompt) moves from its image."""


def key_of(wire: Wire, headers: Mapping[str, str], body: Mapping[str, Any] | None) -> str | None:
    """The API key of a call, from where the contract says it travels (None when absent)."""
    if wire.key_in == "body":
        key = (body or {}).get(wire.key_name)
        return key if isinstance(key, str) else None
    value = headers.get(wire.key_name.lower())
    if not value:
        return None
    if wire.key_scheme:
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != wire.key_scheme.lower() or not token.strip():
            return None
        if scheme.lower() == "basic":  # user:password in base64: the password is the key, whoever the user
            try:
                pair = base64.b64decode(token.strip(), validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                return None
            return pair.partition(":")[2] or None
        return token.strip()
    return value


def schema_defaults(spec: Spec, operation_id: str) -> dict[str, Any]:
    """The defaults the operation's request schema gives its fields."""
    return {f.name: f.default for f in spec.request_fields(operation_id) if f.has_default}


def _size(value: Any, field: str) -> tuple[int, int] | None:
    if value is None or value == "auto":
        return None  # the server's own choice
    width, _, height = str(value).partition("x")
    if not (width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
        raise ValidationError([Problem(field, "format", f"{field} must be WIDTHxHEIGHT, got {value!r}", value)])
    return int(width), int(height)


def _image(value: Any) -> str | None:
    """An input image as the typed request holds it: base64 text (a file's bytes are encoded)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value if isinstance(value, str) and value else None


def generation_request(spec: Spec, hints: OperationMap, values: Mapping[str, Any], *, key: str,
                       default_model: str, wire: Wire) -> GenerationRequest:
    """The typed generic request for a generation of a contract pack (``values`` already validated)."""
    merged = schema_defaults(spec, hints.operation_id) | dict(values)

    def get(semantic: str) -> Any:
        field = hints.field(semantic)
        return merged.get(field) if field is not None else None

    fields: dict[str, Any] = {"key": key, "model_id": get("model") or default_model}
    prompt = get("prompt")
    fields["prompt"] = prompt if isinstance(prompt, str) else ""
    if isinstance(get("negative_prompt"), str) and get("negative_prompt"):
        fields["negative_prompt"] = get("negative_prompt")
    size = _size(get("size"), hints.field("size") or "size")
    if size is not None:
        fields["width"], fields["height"] = size
    for semantic, name in (("width", "width"), ("height", "height"), ("steps", "num_inference_steps"),
                           ("guidance", "guidance_scale")):
        value = get(semantic)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            fields[name] = value
    samples = get("samples")
    if hints.samples_from:
        samples = 1
        for name in hints.samples_from:
            count = merged.get(name)
            samples *= count if isinstance(count, int) and count > 0 else 1
    if isinstance(samples, int) and samples > 0:
        fields["samples"] = samples
    seed = get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool) and seed != hints.random_seed and seed >= 0:
        fields["seed"] = seed
    fields["base64"] = _wants_base64(wire, hints, get("output_form"))
    kind = hints.kind or "text2img"
    if kind == "img2img" and _image(get("mask")):
        kind = "inpaint"  # an edit with a mask (OpenAI's edits, AUTOMATIC1111's img2img) repaints under it
    if kind in ("img2img", "inpaint", "variation"):
        fields["init_image"] = _image(get("init_image")) or ""
        strength = get("strength")
        fields["strength"] = strength if isinstance(strength, (int, float)) and not isinstance(strength, bool) \
            else VARIATION_STRENGTH
    if kind == "inpaint":
        fields["mask_image"] = _image(get("mask")) or ""
    fields["extra"] = {name: value for name, value in values.items() if name not in hints.semantics.values()
                       and not isinstance(value, (bytes, bytearray))}
    return _KINDS[kind](**fields)


def as_inpaint(request: GenerationRequest, mask_image: str) -> InpaintRequest:
    """``request`` (an img2img) repainting only under ``mask_image``."""
    fields = {f.name: getattr(request, f.name) for f in dataclasses.fields(request)}
    return InpaintRequest(**fields, mask_image=mask_image)


def _wants_base64(wire: Wire, hints: OperationMap, value: Any) -> bool:
    output = wire.output
    if output.forms == ("base64",):
        return True
    if output.switch and value is not None:
        return value == output.switch.get("base64")
    if value is None:
        return output.default_form() == "base64"
    return bool(value)
