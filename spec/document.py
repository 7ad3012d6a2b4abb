"""Any OpenAPI 3.0 or 3.1 document as plain data: JSON pointers, ``$ref``, ``allOf`` and schema walks.

:class:`~spec.loader.Spec` (the one contract this toolkit implements, 3.1 only)
is a :class:`Document`; the drift tools read *any* OpenAPI 3.0 or 3.1
description with the same class, including a vendor page: :func:`read_document`
accepts YAML, JSON, or Markdown with the document in a fenced ``yaml`` block.
A :class:`Document` answers:

* ``get(pointer)``, ``follow(pointer)`` and ``deref(node)`` (follow ``$ref``
  chains; a dangling, external or circular one raises :class:`DocumentError`);
* ``view(pointer)``: a :class:`SchemaView` with ``$ref`` followed and ``allOf``
  merged, remembering which node each keyword and property came from, so
  findings point at the real place in the file;
* ``schema_pointers()``: every schema object in the document, and
  ``schema_validator(pointer)``: a JSON Schema validator for the schema at a
  pointer, in the document's dialect (3.0 with ``nullable``, or 3.1 / 2020-12).
  Response validation (:mod:`spec.responses`) is built on it.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import yaml

from .errors import DocumentError

if TYPE_CHECKING:  # the validators load on first use, so importing spec stays light
    from jsonschema.exceptions import ValidationError as JsonSchemaError
    from jsonschema.protocols import Validator
    from referencing import Registry

__all__ = ["HTTP_METHODS", "Document", "SchemaView", "escape_pointer", "read_document"]

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_URI = "urn:t2i-contract:document"
_FENCE = re.compile(r"^(`{3,}|~{3,})\s*ya?ml\b[^\n]*\n(.*?)^\1\s*$", re.S | re.M)
# Keywords whose value is one subschema, a list of them, or a map of them.
_ONE = ("items", "not", "additionalProperties", "unevaluatedProperties", "contains",
        "propertyNames", "if", "then", "else", "unevaluatedItems")
_LIST = ("allOf", "oneOf", "anyOf", "prefixItems")
_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")


def escape_pointer(part: object) -> str:
    """Escape one JSON-pointer segment (RFC 6901)."""
    return str(part).replace("~", "~0").replace("/", "~1")


def read_document(path: str | Path) -> Document:
    """Read an OpenAPI document from YAML, JSON or Markdown (first fenced yaml block with ``openapi:``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DocumentError(f"cannot read {path}: {exc.strerror}", str(path)) from None
    except UnicodeDecodeError:
        raise DocumentError(f"{path} is not UTF-8 text", str(path)) from None
    if path.suffix.lower() in (".md", ".markdown"):
        blocks = [m.group(2) for m in _FENCE.finditer(text) if re.search(r"^openapi\s*:", m.group(2), re.M)]
        if not blocks:
            raise DocumentError(f"{path} has no fenced yaml block with an 'openapi:' key", str(path))
        text = blocks[0]
    return Document.from_text(text, str(path))


@dataclass
class SchemaView:
    """One schema with ``$ref`` followed and ``allOf`` merged.

    ``keywords`` holds the merged keywords (the first definition of each wins,
    except ``required``, which is the union); ``origin`` says which node each one
    came from; ``properties`` maps a property name to the pointer of its schema.
    """

    pointer: str
    keywords: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    required: list[str] = field(default_factory=list)

    def get(self, keyword: str, default: Any = None) -> Any:
        return self.keywords.get(keyword, default)

    def at(self, keyword: str) -> str:
        """JSON pointer of ``keyword`` in the node that defines it."""
        return f"{self.origin.get(keyword, self.pointer)}/{escape_pointer(keyword)}"

    def types(self) -> set[str]:
        """The JSON types this schema allows (empty = any); 3.0 ``nullable`` adds ``null``."""
        kind = self.keywords.get("type")
        types = {kind} if isinstance(kind, str) else {k for k in kind if isinstance(k, str)} if isinstance(kind, list) else set()
        if types and self.keywords.get("nullable") is True:
            types.add("null")
        return types


def _one_line(exc: Exception) -> str:
    """A parser's complaint on one line: YAML's problem and where (its own text spans several lines)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if problem and mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return " ".join(str(exc).split())


class Document:
    """An OpenAPI 3.0 or 3.1 document held as plain data."""

    def __init__(self, data: dict[str, Any], source: str = "document") -> None:
        if not isinstance(data, dict) or not isinstance(data.get("openapi"), str):
            raise DocumentError(f"{source} is not an OpenAPI document (no 'openapi' version string)", source)
        self.data = data
        self.source = source
        self.version = data["openapi"]
        self._registry: Registry | None = None
        self._schema_validators: dict[str, Validator] = {}

    @classmethod
    def from_text(cls, text: str, source: str = "document") -> Document:
        try:
            data = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise DocumentError(f"{source} is neither valid YAML nor JSON: {_one_line(exc)}", source) from None
        return cls(data, source)

    @property
    def is_31(self) -> bool:
        return self.version.startswith("3.1") or self.version.startswith("3.2")

    # -- pointers --------------------------------------------------------
    def get(self, pointer: str) -> Any:
        node: Any = self.data
        for raw in pointer.split("/")[1:] if pointer else []:
            part = raw.replace("~1", "/").replace("~0", "~")
            try:
                node = node[int(part)] if isinstance(node, list) else node[part]
            except (KeyError, IndexError, ValueError, TypeError):
                raise DocumentError(f"{self.source}: JSON pointer {pointer!r} does not resolve", self.source) from None
        return node

    def has(self, pointer: str) -> bool:
        try:
            self.get(pointer)
        except DocumentError:
            return False
        return True

    def follow(self, pointer: str) -> str:
        """Follow ``$ref`` from the node at ``pointer``; return the pointer of the node reached."""
        return self._follow(pointer, self.get(pointer))

    def deref(self, node: Any) -> Any:
        """``node`` itself, or what its ``$ref`` chain leads to."""
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            return self.get(self._follow("(inline node)", node))
        return node

    def _follow(self, pointer: str, node: Any) -> str:
        seen: list[str] = []
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if not ref.startswith("#"):
                raise DocumentError(f"{self.source}: external $ref {ref!r} at {pointer} is not supported", self.source)
            if ref in seen:
                raise DocumentError(f"{self.source}: circular $ref {ref!r} at {pointer}", self.source)
            seen.append(ref)
            pointer = ref[1:]
            node = self.get(pointer)
        return pointer

    # -- schemas ---------------------------------------------------------
    def view(self, pointer: str) -> SchemaView:
        """The schema at ``pointer`` with ``$ref`` followed and ``allOf`` members merged in."""
        view = SchemaView(self.follow(pointer))
        self._merge(view, pointer, depth=0)
        return view

    def _merge(self, view: SchemaView, pointer: str, depth: int) -> None:
        if depth > 32:
            raise DocumentError(f"{self.source}: allOf/$ref nesting too deep at {pointer}", self.source)
        node = self.get(pointer)
        if not isinstance(node, dict):
            return
        # In 3.0 a $ref replaces its siblings; in 3.1 the siblings apply as well.
        if isinstance(node.get("$ref"), str) and not self.is_31:
            self._merge(view, self.follow(pointer), depth + 1)
            return
        for keyword, value in node.items():
            if keyword in ("$ref", "allOf"):
                continue
            if keyword == "properties" and isinstance(value, dict):
                for name in value:
                    view.properties.setdefault(name, f"{pointer}/properties/{escape_pointer(name)}")
            elif keyword == "required" and isinstance(value, list):
                view.required.extend(r for r in value if isinstance(r, str) and r not in view.required)
            if keyword not in view.keywords:
                view.keywords[keyword] = value
                view.origin[keyword] = pointer
        if isinstance(node.get("$ref"), str):
            self._merge(view, self.follow(pointer), depth + 1)
        for index, _ in enumerate(node.get("allOf") or []):
            self._merge(view, f"{pointer}/allOf/{index}", depth + 1)

    def schema_roots(self) -> list[str]:
        """Top-level schemas: component schemas, and those of media types and parameters."""
        roots: list[str] = []
        for name in (self.data.get("components") or {}).get("schemas") or {}:
            roots.append(f"/components/schemas/{escape_pointer(name)}")
        for base in self.media_pointers():
            if self.has(f"{base}/schema"):
                roots.append(f"{base}/schema")
        for pointer in self.parameter_pointers():
            if self.has(f"{pointer}/schema"):
                roots.append(f"{pointer}/schema")
        return roots

    def schema_pointers(self) -> Iterator[str]:
        """Every schema object written in the document (``$ref`` nodes included, not followed)."""
        seen: set[str] = set()
        for root in self.schema_roots():
            yield from self._walk_schema(root, seen)

    def _walk_schema(self, pointer: str, seen: set[str]) -> Iterator[str]:
        if pointer in seen:
            return
        seen.add(pointer)
        node = self.get(pointer)
        if not isinstance(node, dict):
            return
        yield pointer
        for keyword in _ONE:
            if isinstance(node.get(keyword), dict):
                yield from self._walk_schema(f"{pointer}/{keyword}", seen)
        for keyword in _LIST:
            for index, item in enumerate(node.get(keyword) or []):
                if isinstance(item, dict):
                    yield from self._walk_schema(f"{pointer}/{keyword}/{index}", seen)
        for keyword in _MAP:
            for name, item in (node.get(keyword) or {}).items():
                if isinstance(item, dict):
                    yield from self._walk_schema(f"{pointer}/{keyword}/{escape_pointer(name)}", seen)

    # -- operations, media, parameters -------------------------------------
    def operation_pointers(self) -> Iterator[tuple[str, str, str]]:
        """(route, method, pointer) for every operation under ``paths`` and ``webhooks``."""
        for section in ("paths", "webhooks"):
            for route, item in (self.data.get(section) or {}).items():
                if not isinstance(item, dict):
                    continue
                for method in HTTP_METHODS:
                    if isinstance(item.get(method), dict):
                        yield route, method, f"/{section}/{escape_pointer(route)}/{method}"

    def media_containers(self) -> Iterator[str]:
        """Pointers of every request body and response object, refs followed."""
        for _, _, op in self.operation_pointers():
            if self.has(f"{op}/requestBody"):
                yield self.follow(f"{op}/requestBody")
            responses = self.get(op).get("responses")
            for code in responses if isinstance(responses, dict) else ():
                yield self.follow(f"{op}/responses/{escape_pointer(code)}")
        components = self.data.get("components") or {}
        for section in ("requestBodies", "responses"):
            entries = components.get(section) if isinstance(components, dict) else None
            for name in entries if isinstance(entries, dict) else ():
                yield self.follow(f"/components/{section}/{escape_pointer(name)}")

    def media_pointers(self) -> Iterator[str]:
        """Pointers of every well-formed media type object; ``content-malformed`` reports the rest."""
        seen: set[str] = set()
        for container in self.media_containers():
            node = self.get(container)
            content = node.get("content") if isinstance(node, dict) else None
            for media, entry in content.items() if isinstance(content, dict) else ():
                pointer = f"{container}/content/{escape_pointer(media)}"
                if isinstance(entry, dict) and pointer not in seen:
                    seen.add(pointer)
                    yield pointer

    def parameter_pointers(self) -> Iterator[str]:
        """Pointers of every parameter object, refs followed."""
        seen: set[str] = set()
        candidates: list[str] = []
        for section in ("paths", "webhooks"):
            for route, item in (self.data.get(section) or {}).items():
                base = f"/{section}/{escape_pointer(route)}"
                candidates += [f"{base}/parameters/{i}" for i, _ in enumerate((item or {}).get("parameters") or [])]
        for _, _, op in self.operation_pointers():
            candidates += [f"{op}/parameters/{i}" for i, _ in enumerate(self.get(op).get("parameters") or [])]
        for name in ((self.data.get("components") or {}).get("parameters") or {}):
            candidates.append(f"/components/parameters/{escape_pointer(name)}")
        for candidate in candidates:
            pointer = self.follow(candidate)
            if pointer not in seen:
                seen.add(pointer)
                yield pointer

    # -- validation ------------------------------------------------------
    def errors(self, pointer: str, value: Any) -> list[JsonSchemaError]:
        """Every way ``value`` breaks the schema at ``pointer``.

        A malformed schema (``maximum: null``, a broken regex, a dangling $ref)
        makes the validator itself fail; that becomes a :class:`DocumentError`
        (lint reports such schemas under ``schema-malformed``).
        """
        try:
            return list(self.schema_validator(pointer).iter_errors(value))
        except Exception as exc:  # jsonschema raises whatever a malformed keyword provokes
            raise DocumentError(f"{self.source}: the schema at {pointer} cannot be evaluated: "
                                f"{type(exc).__name__}: {exc}", self.source) from None

    def accepts(self, pointer: str, value: Any) -> bool:
        return not self.errors(pointer, value)

    def schema_validator(self, pointer: str) -> Validator:
        """A validator for the schema at ``pointer`` in this document's dialect (cached per pointer)."""
        validator = self._schema_validators.get(pointer)
        if validator is None:
            from openapi_schema_validator import OAS30Validator, OAS31Validator
            from referencing import Registry, Resource
            from referencing.jsonschema import DRAFT4, DRAFT202012

            if self._registry is None:
                spec = DRAFT202012 if self.is_31 else DRAFT4
                resource = Resource.from_contents(self.data, default_specification=spec)
                self._registry = Registry().with_resource(_URI, resource)
            cls = OAS31Validator if self.is_31 else OAS30Validator
            validator = self._schema_validators[pointer] = cls({"$ref": f"{_URI}#{pointer}"}, registry=self._registry)
        return validator
