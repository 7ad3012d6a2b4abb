"""The contract's facts, read from the document, for every package above ``spec/``.

Servers, the contract suite and the drift tools need more from the contract than
validation: where the API lives, which statuses an operation documents, what a
request field defaults to, which wire words mean true, how big an upscaled image
is. Each fact is written once, in ``text2img.yaml``, and read here; nothing above
``spec/`` retypes it. :class:`~spec.loader.Spec` exposes these as properties and
methods (``spec.base_path``, ``spec.request_fields("text2img")``...), so callers
never reach into the validator's internals.

Facts kept in ``x-t2i-*`` extensions, beside the schema they qualify:

- ``x-t2i-coercions.boolean``: the wire words for true and false;
- ``x-t2i-non-samplers`` on the ``Scheduler`` schema: enum names that are not
  text-to-image samplers (a server may refuse them);
- ``x-t2i-scale`` on the ``upscale`` property: how much ``upscale: true`` enlarges;
- ``x-t2i-image`` on each input-image property: what a server accepts there (formats,
  sides, bytes, JPEG scans; ``spec/EXTENSIONS.md``), read by :func:`input_image_limits`.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import urlsplit

from .errors import SpecLoadError

if TYPE_CHECKING:
    from .loader import Spec

__all__ = ["InputImageLimits", "RequestField", "base_path", "documented_statuses", "input_image_fields",
           "input_image_limits", "model_dependent_fields", "non_sampler_schedulers",
           "request_fields", "upscale_factor", "wire_booleans"]


@dataclass(frozen=True)
class RequestField:
    """One property of an operation's JSON request body.

    ``schema`` is the property's schema with a top-level ``$ref`` resolved;
    ``default`` is the schema's default and is only meaningful when
    ``has_default`` is true (a default may itself be ``null``).
    """

    name: str
    schema: Mapping[str, Any]
    required: bool
    has_default: bool
    default: Any = None


def base_path(spec: Spec) -> str:
    """The path every operation lives under, e.g. ``/api/v6/images``.

    The first server URL's path (the vendor writes ``https://host/api/v6/images``),
    joined with the longest run of whole segments all operation paths share
    (this document writes ``https://host`` and full paths).
    """
    servers = spec.document.get("servers") or [{}]
    server = urlsplit(str(servers[0].get("url", "")) if isinstance(servers[0], dict) else "").path.rstrip("/")
    routes = [route for _, route, _, _ in spec.operations()]
    if not routes:
        return server
    shared = posixpath.commonpath(routes) if all(r.startswith("/") for r in routes) else ""
    if len(routes) == 1:
        shared = posixpath.dirname(routes[0])
    # A template segment ({id}) is never part of the base.
    parts = [p for p in shared.split("/") if p]
    while parts and parts[-1].startswith("{"):
        parts.pop()
    prefix = "/" + "/".join(parts) if parts else ""
    return (server + prefix) or "/"


def documented_statuses(spec: Spec, operation_id: str) -> tuple[int, ...]:
    """The HTTP statuses an operation documents, ascending (``default`` is left out)."""
    _, _, operation = spec.operation(operation_id)
    statuses = []
    for code in (operation.get("responses") or {}):
        text = str(code)
        if text.isdigit():
            statuses.append(int(text))
    return tuple(sorted(statuses))


def request_fields(spec: Spec, operation_id: str) -> tuple[RequestField, ...]:
    """The request body's properties, in document order."""
    schema = spec.request_schema(operation_id)
    required = set(schema.get("required") or ())
    fields = []
    for name, node in (schema.get("properties") or {}).items():
        resolved = _merged(spec, node)
        fields.append(RequestField(name=name, schema=MappingProxyType(resolved), required=name in required,
                                   has_default="default" in resolved, default=resolved.get("default")))
    return tuple(fields)


def wire_booleans(spec: Spec) -> Mapping[str, bool]:
    """Lower-case wire words for booleans (``{"yes": True, "no": False, ...}``); compare case-folded."""
    rule = (spec.document.get("x-t2i-coercions") or {}).get("boolean") or {}
    words = {str(w).lower(): True for w in rule.get("truthy") or ()}
    words |= {str(w).lower(): False for w in rule.get("falsy") or ()}
    return MappingProxyType(words)


def non_sampler_schedulers(spec: Spec) -> frozenset[str]:
    """Scheduler names in the enum that are not text-to-image samplers (``x-t2i-non-samplers``)."""
    schema = spec.schema("Scheduler")
    names = frozenset(schema.get("x-t2i-non-samplers") or ())
    unknown = names - set(schema.get("enum") or ())
    if unknown:
        raise SpecLoadError(f"x-t2i-non-samplers names schedulers outside the enum: {sorted(unknown)}")
    return names


def model_dependent_fields(spec: Spec, operation_id: str) -> frozenset[str]:
    """Request fields whose valid values a server may refuse for the model asked for (``x-t2i-model-dependent``).

    A refusal of one must be a 400 naming the field and the value sent; the contract
    suite takes it as such, and nothing broader.
    """
    return frozenset(field.name for field in request_fields(spec, operation_id)
                     if field.schema.get("x-t2i-model-dependent") is True)


def upscale_factor(spec: Spec, operation_id: str = "text2img") -> int:
    """How many times ``upscale: true`` enlarges each side (``x-t2i-scale`` on ``upscale``)."""
    for field in request_fields(spec, operation_id):
        if field.name == "upscale":
            factor = field.schema.get("x-t2i-scale")
            if isinstance(factor, int) and factor >= 1:
                return factor
            raise SpecLoadError(f"{operation_id}: upscale has no integer x-t2i-scale")
    raise SpecLoadError(f"{operation_id} has no upscale field")


@dataclass(frozen=True)
class InputImageLimits:
    """What a server accepts in one input-image field (``x-t2i-image``): checked before any pixel is decoded."""

    formats: tuple[str, ...]
    """Lower-case format names: ``png``, ``jpeg``."""
    min_side: int
    max_side: int
    max_bytes: int
    """The largest image, in bytes, fetched or inline (decoded base64)."""
    max_scans: int
    """The most scans a JPEG may have: each costs a pass over every pixel (a progressive one has about 10)."""


_IMAGE_KEYS = ("min-side", "max-side", "max-bytes", "max-scans")


def input_image_limits(spec: Spec, operation_id: str, field: str) -> InputImageLimits:
    """The limits of input-image ``field`` of ``operation_id`` (``x-t2i-image`` on the property)."""
    for candidate in request_fields(spec, operation_id):
        if candidate.name != field:
            continue
        rule = candidate.schema.get("x-t2i-image")
        if not isinstance(rule, Mapping):
            raise SpecLoadError(f"{operation_id}.{field} has no x-t2i-image mapping")
        numbers = {key: rule.get(key) for key in _IMAGE_KEYS}
        formats = rule.get("formats")
        if (any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in numbers.values())
                or not isinstance(formats, list) or not formats or numbers["min-side"] > numbers["max-side"]):
            raise SpecLoadError(f"{operation_id}.{field}: x-t2i-image needs formats and positive {_IMAGE_KEYS}, "
                                f"got {dict(rule)}")
        return InputImageLimits(formats=tuple(str(f).lower() for f in formats), min_side=numbers["min-side"],
                                max_side=numbers["max-side"], max_bytes=numbers["max-bytes"],
                                max_scans=numbers["max-scans"])
    raise SpecLoadError(f"{operation_id} has no field {field}")


def input_image_fields(spec: Spec, operation_id: str) -> tuple[str, ...]:
    """The operation's input-image fields (those with ``x-t2i-image``), in document order."""
    return tuple(f.name for f in request_fields(spec, operation_id) if "x-t2i-image" in f.schema)


def _merged(spec: Spec, node: Any) -> dict[str, Any]:
    """A property schema with its ``$ref`` resolved; sibling keywords beside the ref win."""
    if not isinstance(node, dict):
        return {}
    if "$ref" in node:
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return {**spec.resolve({"$ref": node["$ref"]}), **siblings}
    return dict(node)
