"""Validate response and webhook bodies against an OpenAPI document: the one response validator.

Used by the servers' own tests, the contract suite's ``conformance`` check, the
validating proxy (``t2i proxy``) and live drift's observer (``t2i drift``), so
every tool gives the same verdict on the same answer. It works on any
:class:`~spec.document.Document` (3.0 or 3.1); :attr:`Spec.responses` is the
one for this contract. Schemas are checked with the document's own JSON Schema
dialect (``Document.schema_validator``); formats are annotations, as JSON
Schema 2020-12 specifies.

When a schema has a ``discriminator``, the body's discriminating value picks the
branch first, so a failure names the real problem ("output: ... is not of type
'array'") instead of "not valid under any of the given schemas".

:meth:`ResponseChecker.check_answer` is the verdict on one whole HTTP answer
(status, Content-Type and raw body); the finer methods let the observer tally
what it sees.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from .document import Document, escape_pointer
from .errors import DocumentError, SpecLoadError

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError as SchemaError

__all__ = ["Discriminator", "ResponseChecker"]


@dataclass(frozen=True)
class Discriminator:
    """A schema's ``discriminator``: the property that picks a branch, and branch pointers by value."""

    property_name: str
    mapping_pointer: str
    branches: Mapping[str, str]


class ResponseChecker:
    def __init__(self, document: Document) -> None:
        self.document = document
        self._by_id = {op.get("operationId"): pointer for _, _, pointer in document.operation_pointers()
                       if isinstance(op := document.get(pointer), dict) and isinstance(op.get("operationId"), str)}
        self._discriminators: dict[str, Discriminator | None] = {}

    # -- locating schemas --------------------------------------------------
    def operation_pointer(self, operation_id: str) -> str:
        try:
            return self._by_id[operation_id]
        except KeyError:
            raise SpecLoadError(f"no operation with operationId {operation_id!r}") from None

    def response_at(self, operation_pointer: str, status_code: int) -> str | None:
        """Pointer of the response object that documents ``status_code`` (refs followed), or None."""
        responses = self.document.get(operation_pointer).get("responses") or {}
        code = str(status_code)
        for key in (code, f"{code[0]}XX", "default"):
            if key in responses:
                return self.document.follow(f"{operation_pointer}/responses/{escape_pointer(key)}")
        return None

    def media_types(self, response_pointer: str) -> list[str]:
        """The media types a response documents (``content`` keys)."""
        content = self.document.get(response_pointer).get("content")
        return [str(media) for media in content] if isinstance(content, dict) else []

    def json_schema(self, container_pointer: str) -> str | None:
        """Pointer of the ``application/json`` schema of a response or request body, or None."""
        pointer = f"{container_pointer}/content/application~1json/schema"
        return self.document.follow(pointer) if self.document.has(pointer) else None

    def response_pointer(self, operation_id: str, status_code: int) -> str | None:
        """JSON pointer to the JSON schema of one documented response, or None if undocumented."""
        response = self.response_at(self.operation_pointer(operation_id), status_code)
        if response is None:
            return None
        schema = self.json_schema(response)
        if schema is None:
            raise DocumentError(f"response {status_code} of {operation_id} documents no application/json schema",
                                self.document.source)
        return schema

    def webhook_pointer(self, name: str | None = None) -> str:
        webhooks = self.document.data.get("webhooks") or {}
        if not webhooks:
            raise SpecLoadError("the document has no webhooks")
        name = name or next(iter(webhooks))
        schema = self.json_schema(self.document.follow(f"/webhooks/{escape_pointer(name)}/post/requestBody"))
        if schema is None:
            raise DocumentError(f"webhook {name!r} documents no application/json body", self.document.source)
        return schema

    def discriminator(self, pointer: str) -> Discriminator | None:
        """The discriminator of the schema at ``pointer`` (``allOf`` and ``$ref`` followed), if it maps values."""
        if pointer not in self._discriminators:
            view = self.document.view(pointer)
            found = view.get("discriminator")
            result = None
            if isinstance(found, dict) and isinstance(found.get("mapping"), dict) and found["mapping"]:
                branches = {str(value): str(ref)[1:] for value, ref in found["mapping"].items()}
                result = Discriminator(str(found.get("propertyName")), f"{view.at('discriminator')}/mapping", branches)
            self._discriminators[pointer] = result
        return self._discriminators[pointer]

    # -- checking ----------------------------------------------------------
    def schema_errors(self, pointer: str, body: Any) -> list[SchemaError]:
        """Every way ``body`` breaks the schema at ``pointer`` (no discriminator shortcut)."""
        return self.document.errors(pointer, body)

    @staticmethod
    def describe(error: SchemaError) -> str:
        """One schema error in words, led by where in the body it is (``output/0: ...``)."""
        return f"{'/'.join(str(p) for p in error.absolute_path) or '(body)'}: {error.message}"

    def errors_at(self, pointer: str, body: Any) -> list[str]:
        """Every way ``body`` breaks the schema at ``pointer``; empty when it conforms."""
        found = self.discriminator(pointer) if isinstance(body, dict) else None
        if found is not None:
            value = body.get(found.property_name)
            if not isinstance(value, str) or value not in found.branches:
                # Worded like jsonschema's own enum errors, which share the list.
                return [f"{found.property_name}: {value!r} is not one of {sorted(found.branches)}"]
            branch = self.errors_at(self.document.follow(found.branches[value]), body)
            if branch:
                return branch
        return [self.describe(error) for error in self.schema_errors(pointer, body)]

    def check(self, operation_id: str, status_code: int, body: Any) -> list[str]:
        """Problems with a response of ``operation_id``; an undocumented status is one."""
        pointer = self.response_pointer(operation_id, status_code)
        if pointer is None:
            return [f"HTTP {status_code} is not a documented response of {operation_id}"]
        return self.errors_at(pointer, body)

    def check_answer(self, operation_id: str, status_code: int, content_type: str, raw: bytes) -> list[str]:
        """The verdict on one whole HTTP answer: a documented status, a documented media type, a JSON body
        that fits the schema. ``t2i test`` and ``t2i proxy`` both judge answers with this."""
        response = self.response_at(self.operation_pointer(operation_id), status_code)
        if response is None:
            return [f"HTTP {status_code} is not a documented response of {operation_id}"]
        media = content_type.split(";", 1)[0].strip().lower()
        documented = self.media_types(response)
        schema = self.json_schema(response)
        problems = []
        if schema is not None:
            try:
                body = json.loads(raw)
            except ValueError:
                return [f"HTTP {status_code} body is not JSON (Content-Type {content_type or 'missing'})"]
            problems = self.errors_at(schema, body)
        if documented and media not in documented:
            problems.append(f"Content-Type is {content_type or 'missing'}, not {' or '.join(documented)}")
        return problems

    def check_webhook(self, body: Any, name: str | None = None) -> list[str]:
        return self.errors_at(self.webhook_pointer(name), body)
