"""The typed, normalised requests every server works from.

``parse_text2img(body)`` runs the hot path: coerce and validate with the compiled
:class:`~spec.validation.BodyValidator`, fill defaults, apply the steps cap, split
the LoRA lists and check that their lengths agree. The result is a frozen
:class:`Text2ImgRequest` whose field names are the spec's property names.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import BodyError, Problem, ValidationError, show_value
from .loader import Spec, load_spec

__all__ = ["FetchRequest", "Text2ImgRequest", "parse_fetch", "parse_text2img"]


@dataclass(frozen=True, slots=True)
class Text2ImgRequest:
    """A valid text2img request with every default applied.

    ``lora_model`` and ``lora_strength`` are tuples of equal length; ``extra``
    holds the fields the spec does not define, as sent.
    """

    key: str
    model_id: str
    prompt: str
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
    multi_lingual: bool = False
    upscale: bool = False
    highres_fix: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def loras(self) -> tuple[tuple[str, float], ...]:
        """(id, strength) pairs, in request order."""
        return tuple(zip(self.lora_model, self.lora_strength))

    def with_seed(self, seed: int) -> Text2ImgRequest:
        return dataclasses.replace(self, seed=seed)

    def to_meta(self) -> dict[str, Any]:
        """The request as JSON for a response's ``meta``: lists for tuples, never the API key."""
        meta: dict[str, Any] = {}
        for name in _META_FIELDS:
            value = getattr(self, name)
            meta[name] = list(value) if isinstance(value, tuple) else value
        return meta


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(Text2ImgRequest)) - {"extra"}
_META_FIELDS = tuple(f.name for f in dataclasses.fields(Text2ImgRequest) if f.name not in ("key", "extra"))


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


def parse_text2img(body: Any, spec: Spec | None = None) -> Text2ImgRequest:
    """Validate and normalise a decoded text2img body, or raise a RequestError."""
    if not isinstance(body, Mapping):
        raise BodyError([Problem("", "object", f"request body must be a JSON object, got {show_value(body)}", body)])
    spec = spec or load_spec()
    validator = spec.validator("text2img")
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
    for name in ("guidance_scale", "ip_adapter_scale"):
        if values.get(name) is not None:
            values[name] = float(values[name])

    extra = {k: v for k, v in body.items() if k not in _FIELD_NAMES}
    return Text2ImgRequest(**values, extra=extra)


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """A fetch call from either form: ``fetch/{id}`` with ``{key}``, or ``fetch`` with ``{key, request_id}``."""

    key: str
    request_id: int


def parse_fetch(body: Any, path_id: str | None = None, spec: Spec | None = None) -> FetchRequest:
    """Validate a fetch call. Pass ``path_id`` (the raw path segment) for the ``fetch/{id}`` form."""
    if not isinstance(body, Mapping):
        raise BodyError([Problem("", "object", f"request body must be a JSON object, got {show_value(body)}", body)])
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
