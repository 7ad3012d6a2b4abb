"""The typed, normalised requests every server works from.

``parse_request(operation_id, body)`` runs the hot path for every operation:
coerce and validate with the compiled :class:`~spec.validation.BodyValidator`,
fill defaults, apply aliases and the steps cap, split the LoRA lists and check
that their lengths agree. The result is a frozen request object whose field
names are the spec's property names:

- :class:`Text2ImgRequest`, :class:`Img2ImgRequest` and :class:`InpaintRequest`
  share :class:`GenerationRequest`, the fields of ``ImageGenerationParams``;
- :class:`ModelReloadRequest` and :class:`FetchRequest` are small.

``parse_text2img``, ``parse_img2img``, ``parse_inpaint``, ``parse_model_reload``
and ``parse_fetch`` are the same per operation.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

from .errors import BodyError, Problem, ValidationError, show_value
from .loader import Spec, load_spec

__all__ = [
    "FetchRequest",
    "GenerationRequest",
    "Img2ImgRequest",
    "InpaintRequest",
    "ModelReloadRequest",
    "Text2ImgRequest",
    "parse_fetch",
    "parse_img2img",
    "parse_inpaint",
    "parse_model_reload",
    "parse_request",
    "parse_text2img",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerationRequest:
    """The fields every generation operation shares, with every default applied.

    ``lora_model`` and ``lora_strength`` are tuples of equal length; ``extra``
    holds the fields the spec does not define, as sent.
    """

    key: str
    model_id: str
    prompt: str = ""
    negative_prompt: str | None = None
    width: int = 512
    height: int = 512
    samples: int = 1
    num_inference_steps: int = 20
    safety_checker: bool = False
    safety_checker_type: str = "sensitive_content_text"
    seed: int | None = None
    guidance_scale: float = 7.5
    use_karras_sigmas: bool = True
    algorithm_type: str = "none"
    vae: str | None = None
    lora_model: tuple[str, ...] = ()
    lora_strength: tuple[float, ...] = ()
    clip_skip: int = 2
    base64: bool = False
    temp: bool = False
    webhook: str | None = None
    track_id: str | None = None
    ip_adapter_id: str | None = None
    ip_adapter_scale: float | None = None
    ip_adapter_image: str | None = None
    scheduler: str | None = None
    enhance_prompt: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)

    #: The operation this request is for (its ``operationId``).
    OPERATION: ClassVar[str] = ""

    @property
    def loras(self) -> tuple[tuple[str, float], ...]:
        """(id, strength) pairs, in request order."""
        return tuple(zip(self.lora_model, self.lora_strength))

    def with_seed(self, seed: int) -> GenerationRequest:
        return dataclasses.replace(self, seed=seed)

    def to_meta(self) -> dict[str, Any]:
        """The request as JSON for a response's ``meta``: lists for tuples, never the API key."""
        meta: dict[str, Any] = {}
        for name in _meta_fields(type(self)):
            value = getattr(self, name)
            meta[name] = list(value) if isinstance(value, tuple) else value
        return meta


@dataclass(frozen=True, slots=True, kw_only=True)
class Text2ImgRequest(GenerationRequest):
    """A valid text2img request: ``prompt`` is required."""

    prompt: str
    multi_lingual: bool = False
    upscale: bool = False
    highres_fix: bool = False
    OPERATION: ClassVar[str] = "text2img"


@dataclass(frozen=True, slots=True, kw_only=True)
class Img2ImgRequest(GenerationRequest):
    """A valid img2img request. ``init_image`` is a URL or base64, as sent; the server loads it."""

    init_image: str
    strength: float = 0.7
    OPERATION: ClassVar[str] = "img2img"


@dataclass(frozen=True, slots=True, kw_only=True)
class InpaintRequest(Img2ImgRequest):
    """A valid inpaint request: white pixels of ``mask_image`` are repainted."""

    mask_image: str
    OPERATION: ClassVar[str] = "inpaint"


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelReloadRequest:
    """A valid model_reload request."""

    key: str
    model_id: str
    extra: Mapping[str, Any] = field(default_factory=dict)
    OPERATION: ClassVar[str] = "modelReload"


@functools.cache
def _meta_fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.name not in ("key", "extra"))


@functools.cache
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls) if f.init) - {"extra"}


def _split_list(value: Any, item_type: str) -> tuple[Any, ...]:
    if value is None:
        return ()
    if not isinstance(value, str):
        return (float(value),) if item_type == "number" else (value,)
    parts = [p.strip() for p in value.split(",")]
    if parts == [""]:
        return ()
    if item_type == "number":
        return tuple(float(p) for p in parts)
    return tuple(parts)


def _object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise BodyError([Problem("", "object", f"request body must be a JSON object, got {show_value(body)}", body)])
    return body


def _generation(cls: type[GenerationRequest], operation_id: str, body: Any, spec: Spec | None) -> Any:
    """Validate and normalise a generation body (text2img, img2img, inpaint), or raise a RequestError."""
    body = _object(body)
    spec = spec or load_spec()
    validator = spec.validator(operation_id)
    values, problems = validator.validate(body)
    if problems:
        raise ValidationError(problems)
    validator.complete(values)

    for name, listing in validator.list_fields.items():
        values[name] = _split_list(values.get(name), listing["items"]["type"])

    models, strengths = values["lora_model"], values["lora_strength"]
    if len(strengths) == 1 and len(models) != 1:
        strengths = strengths * len(models)
    elif not strengths:
        default = validator.list_fields["lora_strength"].get("default", 1.0)
        strengths = (float(default),) * len(models)
    if len(strengths) != len(models):
        raw = body.get("lora_strength")
        raise ValidationError([Problem(
            "lora_strength", "count",
            f"lora_strength must have one value, or one per LoRA in lora_model ({len(models)}), "
            f"got {len(strengths)} values: {show_value(raw)}", raw,
        )])
    values["lora_strength"] = strengths
    for name in ("guidance_scale", "ip_adapter_scale", "strength"):
        if values.get(name) is not None:
            values[name] = float(values[name])

    known = _field_names(cls)
    extra = {k: v for k, v in body.items() if k not in known and k not in validator.fields}
    return cls(**values, extra=extra)


def parse_text2img(body: Any, spec: Spec | None = None) -> Text2ImgRequest:
    """Validate and normalise a decoded text2img body, or raise a RequestError."""
    return _generation(Text2ImgRequest, "text2img", body, spec)


def parse_img2img(body: Any, spec: Spec | None = None) -> Img2ImgRequest:
    """Validate and normalise a decoded img2img body, or raise a RequestError."""
    return _generation(Img2ImgRequest, "img2img", body, spec)


def parse_inpaint(body: Any, spec: Spec | None = None) -> InpaintRequest:
    """Validate and normalise a decoded inpaint body, or raise a RequestError."""
    return _generation(InpaintRequest, "inpaint", body, spec)


def parse_model_reload(body: Any, spec: Spec | None = None) -> ModelReloadRequest:
    """Validate a decoded model_reload body, or raise a RequestError."""
    body = _object(body)
    validator = (spec or load_spec()).validator("modelReload")
    values, problems = validator.validate(body)
    if problems:
        raise ValidationError(problems)
    extra = {k: v for k, v in body.items() if k not in validator.fields}
    return ModelReloadRequest(key=values["key"], model_id=values["model_id"], extra=extra)


#: The parser of each operation whose request is a JSON body alone, by operationId.
PARSERS: Mapping[str, Callable[..., Any]] = {
    "text2img": parse_text2img,
    "img2img": parse_img2img,
    "inpaint": parse_inpaint,
    "modelReload": parse_model_reload,
}


def parse_request(operation_id: str, body: Any, spec: Spec | None = None) -> Any:
    """The typed request of any operation that takes only a JSON body (see :data:`PARSERS`)."""
    try:
        parser = PARSERS[operation_id]
    except KeyError:
        raise ValueError(f"no body parser for operation {operation_id!r}; fetch takes parse_fetch") from None
    return parser(body, spec)


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """A fetch call from either form: ``fetch/{id}`` with ``{key}``, or ``fetch`` with ``{key, request_id}``."""

    key: str
    request_id: int


def parse_fetch(body: Any, path_id: str | None = None, spec: Spec | None = None) -> FetchRequest:
    """Validate a fetch call. Pass ``path_id`` (the raw path segment) for the ``fetch/{id}`` form."""
    body = _object(body)
    spec = spec or load_spec()
    if path_id is None:
        values, problems = spec.validator("fetch").validate(body)
    else:
        values, problems = spec.validator("fetchById").validate(body)
        params, param_problems = spec.parameters_validator("fetchById").validate({"id": path_id})
        problems = param_problems + problems
        values["request_id"] = params.get("id")
    if problems:
        raise ValidationError(problems)
    return FetchRequest(key=values["key"], request_id=values["request_id"])
