"""What each operation means for an image API: the ``x-t2i-operation`` hint, read and checked.

A contract pack maps each of its operations onto the toolkit's generic image
semantics (``spec/EXTENSIONS.md``, "Operation level"): the operation's role
(it generates, fetches, lists models...), for a generation its kind
(text2img, img2img, inpaint, variation), and which request field carries
each generic meaning (``prompt`` is OpenAI's ``prompt``, ``guidance`` is
AUTOMATIC1111's ``cfg_scale``). :func:`operation_maps` reads the hint of every
operation once per document and checks it against the document: a hint
naming a role, kind or meaning the vocabulary lacks, or a field the
operation does not have, is a :class:`~spec.errors.SpecLoadError` naming the
operation, the entry and the value. :attr:`OperationMap.unmapped` lists what
an operation cannot express, which ``t2i contracts`` and ``t2i lint`` show
and the contract suite skips with that reason.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

from .errors import SpecLoadError

if TYPE_CHECKING:
    from .loader import Spec

__all__ = ["BODIES", "KINDS", "OPERATION_EXTENSION", "ROLES", "SEMANTICS", "OperationMap", "operation_maps",
           "read_operation_map"]

OPERATION_EXTENSION = "x-t2i-operation"
ROLES = ("generate", "fetch", "reload", "models", "progress")
KINDS = ("text2img", "img2img", "inpaint", "variation")
BODIES = ("json", "multipart")
#: The generic meanings a ``semantics`` map may give, in the order they are listed.
SEMANTICS = ("prompt", "negative_prompt", "width", "height", "size", "samples", "seed", "steps", "guidance",
             "init_image", "mask", "strength", "loras", "scheduler", "model", "webhook", "output_form")
_MEDIA = {"json": "application/json", "multipart": "multipart/form-data"}
# Meanings a role can have at all: a fetch or a model list carries none of them.
_ROLE_SEMANTICS = {"generate": SEMANTICS, "reload": ("model",)}
# Meanings a kind of generation does not need: text2img has no input image, and
# img2img and variation no mask (an img2img operation that maps one also inpaints).
_NOT_NEEDED = {"text2img": ("init_image", "mask", "strength"), "img2img": ("mask",), "variation": ("mask",)}
_KNOWN_KEYS = frozenset({"role", "kind", "semantics", "body", "random-seed", "samples-from", "mask-form"})
#: How a mask marks what to repaint: white pixels (v6, AUTOMATIC1111) or transparent ones (OpenAI).
MASK_FORMS = ("white", "alpha")


@dataclass(frozen=True)
class OperationMap:
    """One operation's ``x-t2i-operation`` hint, checked against the document."""

    operation_id: str
    role: str
    kind: str | None = None
    semantics: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    body: str = "json"
    random_seed: Any = None
    """The seed value asking the server to pick one when it is not ``null`` (AUTOMATIC1111: ``-1``)."""
    samples_from: tuple[str, ...] = ()
    """The fields whose product is the sample count, when it is one (``batch_size`` x ``n_iter``)."""
    mask_form: str = "white"
    """What a mask's repainted pixels are: ``white`` ones, or ``alpha`` (transparent) ones."""

    def field(self, meaning: str) -> str | None:
        """The request field carrying generic ``meaning``, or ``None`` when the operation cannot express it."""
        return self.semantics.get(meaning)

    @property
    def applicable(self) -> tuple[str, ...]:
        """The generic meanings an operation of this role and kind needs to express everything."""
        skipped = _NOT_NEEDED.get(self.kind or "", ())
        return tuple(n for n in _ROLE_SEMANTICS.get(self.role, ()) if n not in skipped)

    @property
    def unmapped(self) -> tuple[str, ...]:
        """The applicable meanings this operation leaves unmapped.

        ``size`` (one ``WIDTHxHEIGHT`` field) and ``width`` with ``height``
        express the same thing: either counts for all three.
        """
        mapped = set(self.semantics)
        if "size" in mapped or {"width", "height"} <= mapped:
            mapped |= {"size", "width", "height"}
        return tuple(name for name in self.applicable if name not in mapped)


_MAPS: weakref.WeakKeyDictionary[Spec, Mapping[str, OperationMap]] = weakref.WeakKeyDictionary()


def operation_maps(spec: Spec) -> Mapping[str, OperationMap]:
    """operationId -> :class:`OperationMap` for every operation with the hint, checked once per document."""
    maps = _MAPS.get(spec)
    if maps is None:
        found = {}
        for operation_id, _, _, operation in spec.operations():
            if OPERATION_EXTENSION in operation:
                found[operation_id] = read_operation_map(spec, operation_id)
        maps = _MAPS[spec] = MappingProxyType(found)
    return maps


def _fail(operation_id: str, entry: str, message: str) -> SpecLoadError:
    return SpecLoadError(f"{operation_id}: {OPERATION_EXTENSION}{'.' + entry if entry else ''} {message}")


def _field_names(spec: Spec, operation_id: str, body: str) -> tuple[str, ...]:
    """The names a semantics entry may point at: the body's properties, else the parameters."""
    _, _, operation = spec.operation(operation_id)
    names: list[str] = []
    if "requestBody" in operation:
        content = (spec.resolve(operation["requestBody"]) or {}).get("content") or {}
        if _MEDIA[body] not in content:
            raise _fail(operation_id, "body", f"is {body!r}, but the request body has no {_MEDIA[body]} content "
                                              f"(it has {sorted(content)})")
        names += [f.name for f in spec.request_fields(operation_id)]
    names += [spec.resolve(p).get("name") for p in operation.get("parameters") or ()]
    return tuple(n for n in names if isinstance(n, str))


def read_operation_map(spec: Spec, operation_id: str) -> OperationMap:
    """Read and check one operation's hint; a wrong entry raises :class:`SpecLoadError` naming it."""
    _, _, operation = spec.operation(operation_id)
    hint = operation.get(OPERATION_EXTENSION)
    if not isinstance(hint, Mapping):
        raise _fail(operation_id, "", f"must be a mapping, got {hint!r}")
    unknown = sorted(set(hint) - _KNOWN_KEYS)
    if unknown:
        raise _fail(operation_id, "", f"has unknown entries {unknown}; it takes {sorted(_KNOWN_KEYS)}")
    role, kind, body = hint.get("role"), hint.get("kind"), hint.get("body", "json")
    if role not in ROLES:
        raise _fail(operation_id, "role", f"must be one of {', '.join(ROLES)}, got {role!r}")
    if (role == "generate") != (kind is not None):
        raise _fail(operation_id, "kind", f"is needed with role generate and only there, got {kind!r} "
                                          f"with role {role!r}")
    if kind is not None and kind not in KINDS:
        raise _fail(operation_id, "kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    if body not in BODIES:
        raise _fail(operation_id, "body", f"must be one of {', '.join(BODIES)}, got {body!r}")
    semantics = hint.get("semantics") or {}
    if not isinstance(semantics, Mapping):
        raise _fail(operation_id, "semantics", f"must be a mapping of meaning to field, got {semantics!r}")
    try:
        fields = _field_names(spec, operation_id, body)
    except (TypeError, AttributeError, KeyError, ValueError) as exc:  # a malformed body or parameter list
        raise _fail(operation_id, "semantics", f"cannot be checked: the operation's fields cannot be read "
                                               f"({type(exc).__name__}: {exc})") from None
    allowed = _ROLE_SEMANTICS.get(role, ())
    for meaning, name in semantics.items():
        if meaning not in SEMANTICS:
            raise _fail(operation_id, f"semantics.{meaning}", f"is not a generic meaning; they are {', '.join(SEMANTICS)}")
        if meaning not in allowed:
            raise _fail(operation_id, f"semantics.{meaning}", f"means nothing for role {role!r}")
        if name not in fields:
            raise _fail(operation_id, f"semantics.{meaning}", f"names field {name!r}, which {operation_id} does not "
                                                              f"have (its fields: {', '.join(fields) or 'none'})")
    samples_from = hint.get("samples-from") or ()
    if not isinstance(samples_from, (list, tuple)) or any(name not in fields for name in samples_from):
        raise _fail(operation_id, "samples-from", f"must list fields of {operation_id}, got {samples_from!r}")
    random_seed = hint.get("random-seed")
    if random_seed is not None and "seed" not in semantics:
        raise _fail(operation_id, "random-seed", f"is {random_seed!r}, but no field is mapped to seed")
    mask_form = hint.get("mask-form", "white")
    if mask_form not in MASK_FORMS or (mask_form != "white" and "mask" not in semantics):
        raise _fail(operation_id, "mask-form", f"must be one of {', '.join(MASK_FORMS)} with a mask mapped, "
                                               f"got {mask_form!r}")
    return OperationMap(operation_id=operation_id, role=role, kind=kind,
                        semantics=MappingProxyType({str(k): str(v) for k, v in semantics.items()}),
                        body=body, random_seed=random_seed, samples_from=tuple(samples_from),
                        mask_form=mask_form)
