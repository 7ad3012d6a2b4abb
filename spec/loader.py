"""Find, read and index the OpenAPI document.

``load_spec()`` returns a :class:`Spec`, the one object the rest of the toolkit
asks about the contract: operations, component schemas, compiled request
validators and response validation. Loading is cached per path, so servers and
tests share one parsed document.
"""
from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

import yaml

from . import facts
from .document import HTTP_METHODS, Document
from .errors import SpecLoadError

if TYPE_CHECKING:
    from .responses import ResponseChecker
    from .validation import BodyValidator

__all__ = ["SPEC_PATH", "Spec", "load_spec"]

SPEC_PATH = Path(__file__).with_name("text2img.yaml")
#: The request bodies the toolkit reads, in order of preference.
REQUEST_MEDIA_TYPES = ("application/json", "multipart/form-data")


class Spec(Document):
    """This contract's OpenAPI 3.1 document: a :class:`Document` with lookups by operationId."""

    def __init__(self, document: dict[str, Any], path: Path | None = None) -> None:
        if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3.1"):
            raise SpecLoadError(f"{path or 'document'} is not an OpenAPI 3.1 document")
        super().__init__(document, str(path or "document"))
        self.document = document
        self.path = path
        self._operations: dict[str, tuple[str, str, dict[str, Any]]] = {}
        for route, item in (document.get("paths") or {}).items():
            for method in HTTP_METHODS:
                operation = item.get(method)
                if isinstance(operation, dict) and "operationId" in operation:
                    self._operations[operation["operationId"]] = (route, method, operation)
        self._validators: dict[str, BodyValidator] = {}
        self._response_checker: ResponseChecker | None = None
        self._fields: dict[str, tuple[facts.RequestField, ...]] = {}

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> Spec:
        return cls(copy.deepcopy(document))

    # -- lookups ---------------------------------------------------------
    def resolve(self, node: Any) -> Any:
        """Follow ``$ref`` (local JSON pointers only) until a node without one is reached."""
        return self.deref(node)

    def pointer(self, pointer: str) -> Any:
        """The node at a JSON pointer (``Document.get``)."""
        return self.get(pointer)

    def schema(self, name: str) -> dict[str, Any]:
        """A component schema by name, with a top-level $ref resolved."""
        return self.resolve(self.pointer(f"/components/schemas/{name}"))

    def operation(self, operation_id: str) -> tuple[str, str, dict[str, Any]]:
        """(path, method, operation object) for an operationId."""
        try:
            return self._operations[operation_id]
        except KeyError:
            raise SpecLoadError(f"no operation with operationId {operation_id!r}") from None

    def operations(self) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
        for operation_id, (route, method, operation) in self._operations.items():
            yield operation_id, route, method, operation

    def operation_names(self) -> dict[str, str]:
        """Every name a command takes for an operation -> its operationId: the id, and the last segment of its
        path (``modelReload`` and ``model_reload``), so every command accepts both spellings."""
        names = {operation_id: operation_id for operation_id in self._operations}
        for operation_id, (route, _, _) in self._operations.items():
            segment = route.rstrip("/").rsplit("/", 1)[-1]
            if not segment.startswith("{"):
                names.setdefault(segment, operation_id)
        return names

    def request_schema(self, operation_id: str) -> dict[str, Any]:
        """The request body's object schema: ``application/json``, else ``multipart/form-data``.

        A multipart body is read as a dict of its parts, so the same validators
        check it; a file part is a string (``format: binary``) holding the file.
        """
        _, _, operation = self.operation(operation_id)
        body = self.resolve(operation.get("requestBody", {}))
        content = body.get("content") if isinstance(body, dict) else None
        for media in REQUEST_MEDIA_TYPES:
            entry = content.get(media) if isinstance(content, dict) else None
            if isinstance(entry, dict) and "schema" in entry:
                return self.flatten(entry["schema"])
        raise SpecLoadError(f"{operation_id} has no {' or '.join(REQUEST_MEDIA_TYPES)} request body")

    def flatten(self, schema: Any) -> dict[str, Any]:
        """An object schema with ``$ref`` resolved and ``allOf`` merged into one.

        Request bodies share their common fields through ``allOf`` (one
        ``ImageGenerationParams`` for every generation operation); validators
        and tools see the merged object: every branch's properties (a later
        branch's property wins) and the union of their ``required`` lists.
        """
        schema = self.resolve(schema)
        if not isinstance(schema, dict) or "allOf" not in schema:
            return schema
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        properties = dict(merged.get("properties") or {})
        required = list(merged.get("required") or ())
        for branch in schema["allOf"]:
            part = self.flatten(branch)
            if part.get("type", "object") != "object":
                raise SpecLoadError(f"allOf merges object schemas only, got type {part.get('type')!r}")
            properties.update(part.get("properties") or {})
            required += [name for name in part.get("required") or () if name not in required]
        merged.update(type="object", properties=properties)
        if required:
            merged["required"] = required
        return merged

    # -- compiled helpers ------------------------------------------------
    def validator(self, operation_id: str) -> BodyValidator:
        """The compiled fast validator for an operation's JSON request body."""
        validator = self._validators.get(operation_id)
        if validator is None:
            from .validation import BodyValidator

            validator = BodyValidator.compile(self, self.request_schema(operation_id))
            self._validators[operation_id] = validator
        return validator

    def parameters_validator(self, operation_id: str) -> BodyValidator:
        """The compiled validator for an operation's parameters (path segments arrive as strings)."""
        key = f"{operation_id}#parameters"
        validator = self._validators.get(key)
        if validator is None:
            from .validation import BodyValidator

            _, _, operation = self.operation(operation_id)
            validator = BodyValidator.from_parameters(self, operation.get("parameters") or [])
            self._validators[key] = validator
        return validator

    @property
    def responses(self) -> ResponseChecker:
        """Validates response and webhook bodies against the document."""
        if self._response_checker is None:
            from .responses import ResponseChecker

            self._response_checker = ResponseChecker(self)
        return self._response_checker

    # -- facts of the contract (spec/facts.py) ----------------------------
    @functools.cached_property
    def base_path(self) -> str:
        """The path every operation lives under: ``/api/v6/images``."""
        return facts.base_path(self)

    def documented_statuses(self, operation_id: str) -> tuple[int, ...]:
        """The HTTP statuses an operation documents, ascending."""
        return facts.documented_statuses(self, operation_id)

    def request_fields(self, operation_id: str) -> tuple[facts.RequestField, ...]:
        """The operation's request-body properties with schema, default and required flag."""
        cached = self._fields.get(operation_id)
        if cached is None:
            cached = self._fields[operation_id] = facts.request_fields(self, operation_id)
        return cached

    @functools.cached_property
    def wire_booleans(self) -> Mapping[str, bool]:
        """Lower-case wire words for booleans; compare case-folded."""
        return facts.wire_booleans(self)

    @functools.cached_property
    def non_sampler_schedulers(self) -> frozenset[str]:
        """Scheduler enum names that are not text-to-image samplers."""
        return facts.non_sampler_schedulers(self)

    def model_dependent_fields(self, operation_id: str) -> frozenset[str]:
        """Request fields a server may refuse for the model asked for (a 400 naming the field and value)."""
        return facts.model_dependent_fields(self, operation_id)

    def input_image_limits(self, operation_id: str, field: str) -> facts.InputImageLimits:
        """What input-image ``field`` of ``operation_id`` accepts (``x-t2i-image``)."""
        return facts.input_image_limits(self, operation_id, field)

    def input_image_fields(self, operation_id: str) -> tuple[str, ...]:
        """The operation's input-image fields, in document order."""
        return facts.input_image_fields(self, operation_id)

    @functools.cached_property
    def upscale_factor(self) -> int:
        """How many times ``upscale: true`` enlarges each side."""
        return facts.upscale_factor(self)

    def output_size(self, width: int, height: int, upscale: bool) -> tuple[int, int]:
        """The size of each output image for a request of ``width`` x ``height``."""
        factor = self.upscale_factor if upscale else 1
        return width * factor, height * factor


@functools.lru_cache(maxsize=8)
def _load_cached(path: Path) -> Spec:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecLoadError(f"cannot read spec {path}: {exc.strerror}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecLoadError(f"{path} is not valid YAML: {exc}") from None
    return Spec(document, path)


_default: Spec | None = None


def load_spec(path: str | Path | None = None) -> Spec:
    """Load (once) and return the spec at ``path``, or the bundled ``text2img.yaml``."""
    global _default
    if path is None:
        # The hot path asks for the default spec on every request: skip path resolution.
        if _default is None:
            _default = _load_cached(SPEC_PATH.resolve())
        return _default
    return _load_cached(Path(path).resolve())
