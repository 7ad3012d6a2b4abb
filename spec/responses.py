"""Validate response and webhook bodies against the document.

Used by the servers' own tests, the contract suite's ``conformance`` check and
the drift tools. Response schemas are full JSON Schema (``oneOf`` with a
discriminator), so this uses :mod:`jsonschema` with the whole document
registered as one resource; ``$ref`` inside it resolves as written. Formats are
annotations, as JSON Schema 2020-12 specifies.

When a schema has a ``discriminator``, the body's discriminating value picks the
branch first, so a failure names the real problem ("output: ... is not of type
'array'") instead of "not valid under any of the given schemas".
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .errors import SpecLoadError

if TYPE_CHECKING:
    from .loader import Spec

__all__ = ["ResponseChecker"]

_URI = "urn:t2i-contract:spec"


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


class ResponseChecker:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        resource = Resource.from_contents(spec.document, default_specification=DRAFT202012)
        self._registry: Registry = Registry().with_resource(_URI, resource)
        self._validator = functools.lru_cache(maxsize=64)(self._make_validator)

    def _make_validator(self, pointer: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": f"{_URI}#{pointer}"}, registry=self._registry)

    def _follow(self, pointer: str) -> str:
        """Follow $refs from ``pointer`` to the node that holds the content."""
        node = self.spec.pointer(pointer)
        while isinstance(node, dict) and "$ref" in node:
            pointer = node["$ref"][1:]
            node = self.spec.pointer(pointer)
        return pointer

    # -- locating schemas --------------------------------------------------
    def response_pointer(self, operation_id: str, status_code: int) -> str | None:
        """JSON pointer to the JSON schema of one documented response, or None if undocumented."""
        route, method, operation = self.spec.operation(operation_id)
        responses = operation.get("responses") or {}
        for key in (str(status_code), f"{str(status_code)[0]}XX", "default"):
            if key in responses:
                base = self._follow(f"/paths/{_escape(route)}/{method}/responses/{key}")
                return self._follow(f"{base}/content/application~1json/schema")
        return None

    def webhook_pointer(self, name: str | None = None) -> str:
        webhooks = self.spec.document.get("webhooks") or {}
        if not webhooks:
            raise SpecLoadError("the document has no webhooks")
        name = name or next(iter(webhooks))
        base = self._follow(f"/webhooks/{_escape(name)}/post/requestBody")
        return self._follow(f"{base}/content/application~1json/schema")

    # -- checking ----------------------------------------------------------
    def errors_at(self, pointer: str, body: Any) -> list[str]:
        """Every way ``body`` breaks the schema at ``pointer``; empty when it conforms."""
        schema = self.spec.pointer(pointer)
        discriminator = schema.get("discriminator") if isinstance(schema, dict) else None
        if discriminator and isinstance(body, dict):
            prop, mapping = discriminator["propertyName"], discriminator.get("mapping") or {}
            value = body.get(prop)
            if value not in mapping:
                return [f"{prop}: {value!r} is not one of {sorted(mapping)}"]
            branch = self.errors_at(self._follow(mapping[value][1:]), body)
            if branch:
                return branch
        return [
            f"{'/'.join(str(p) for p in error.absolute_path) or '(body)'}: {error.message}"
            for error in self._validator(pointer).iter_errors(body)
        ]

    def check(self, operation_id: str, status_code: int, body: Any) -> list[str]:
        """Problems with a response of ``operation_id``; an undocumented status is one."""
        pointer = self.response_pointer(operation_id, status_code)
        if pointer is None:
            return [f"HTTP {status_code} is not a documented response of {operation_id}"]
        return self.errors_at(pointer, body)

    def check_webhook(self, body: Any, name: str | None = None) -> list[str]:
        return self.errors_at(self.webhook_pointer(name), body)
