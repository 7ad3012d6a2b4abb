"""Lint rules about a document's structure: keywords, ``oneOf``, required sets, paths and refs."""
from __future__ import annotations

import json
import re
from itertools import combinations
from typing import Any, Iterator

from t2i_contract.spec import Document, DocumentError, SchemaView

from ..findings import escape_pointer
from .registry import rule

__all__: list[str] = []

# Candidate values tried per JSON type when looking for a body two oneOf branches both accept.
_SAMPLES: dict[str, list[Any]] = {
    "string": ["x", ""], "integer": [0, 1], "number": [0, 0.5], "boolean": [True, False],
    "null": [None], "array": [[]], "object": [{}],
}


@rule("nullable-in-3.1", "error")
def nullable_in_31(document: Document) -> Iterator[tuple[str, str]]:
    """``nullable`` in an OpenAPI 3.1 document, where it means nothing and null stays forbidden."""
    if not document.is_31:
        return
    for pointer in document.schema_pointers():
        node = document.get(pointer)
        if "nullable" in node:
            kind = node.get("type", "...")
            yield f"{pointer}/nullable", (
                f"'nullable' is an OpenAPI 3.0 keyword; in {document.version} it is ignored, so null is "
                f"still rejected. Write type: [{kind}, 'null'] instead"
            )


@rule("required-undefined", "error")
def required_undefined(document: Document) -> Iterator[tuple[str, str]]:
    """A required property that neither the schema nor its ``allOf`` members define."""
    for pointer in document.schema_pointers():
        if "required" not in document.get(pointer) or not isinstance(document.get(pointer)["required"], list):
            continue
        view = document.view(pointer)
        if view.get("patternProperties"):
            continue
        for index, name in enumerate(document.get(pointer)["required"]):
            if isinstance(name, str) and name not in view.properties:
                yield f"{pointer}/required/{index}", (
                    f"required property {name!r} is not defined under properties (nor in allOf members)"
                )


@rule("default-on-required", "warn")
def default_on_required(document: Document) -> Iterator[tuple[str, str]]:
    """A required property with a default: the default can never apply."""
    for pointer in document.schema_pointers():
        if "required" not in document.get(pointer):
            continue
        view = document.view(pointer)
        for name in view.required:
            prop = view.properties.get(name)
            if prop is not None and "default" in document.view(prop).keywords:
                yield f"{document.view(prop).at('default')}", (
                    f"{name!r} is required, so its default {document.view(prop).get('default')!r} never applies"
                )


def _branches(document: Document, view: SchemaView) -> list[SchemaView]:
    base = view.origin["oneOf"]
    return [document.view(f"{base}/oneOf/{i}") for i, _ in enumerate(view.get("oneOf") or [])]


def _accepts(document: Document, pointer: str, value: Any) -> bool:
    try:
        return document.accepts(pointer, value)
    except DocumentError:  # a malformed branch: schema-malformed reports it
        return False


def _candidates(document: Document, views: list[SchemaView | None]) -> list[Any]:
    """Values worth trying for one property: consts, enums, defaults, then a sample per type."""
    values: list[Any] = []
    types: set[str] = set()
    for view in views:
        if view is None:
            continue
        if "const" in view.keywords:
            values.append(view.get("const"))
        values += list(view.get("enum") or [])
        if "default" in view.keywords:
            values.append(view.get("default"))
        types |= view.types()
    for kind in sorted(types) or sorted(_SAMPLES):
        values += _SAMPLES.get(kind, [])
    return values


def _witness(document: Document, a: SchemaView, b: SchemaView) -> tuple[bool, Any]:
    """A value both branches accept, if a simple search finds one."""
    types_a, types_b = a.types(), b.types()
    if types_a and types_b:
        # A number schema also accepts integers.
        widened_a, widened_b = (t | ({"integer"} if "number" in t else set()) for t in (types_a, types_b))
        shared = (types_a & widened_b) | (types_b & widened_a)
        if not shared:
            return False, None
    else:
        shared = types_a or types_b
    if not shared or "object" in shared:
        body: dict[str, Any] = {}
        for name in dict.fromkeys(a.required + b.required):
            props = [document.view(v.properties[name]) if name in v.properties else None for v in (a, b)]
            fitting = [c for c in _candidates(document, props)
                       if all(p is None or _accepts(document, p.pointer, c) for p in props)]
            if not fitting:
                return False, None
            body[name] = fitting[0]
        if _accepts(document, a.pointer, body) and _accepts(document, b.pointer, body):
            return True, body
    for kind in sorted(shared - {"object"}):
        for value in _SAMPLES.get(kind, []):
            if _accepts(document, a.pointer, value) and _accepts(document, b.pointer, value):
                return True, value
    return False, None


@rule("oneof-ambiguous", "error")
def oneof_ambiguous(document: Document) -> Iterator[tuple[str, str]]:
    """``oneOf`` branches that one value satisfies at once, so ``oneOf`` rejects that value."""
    for pointer in document.schema_pointers():
        if "oneOf" not in document.get(pointer):
            continue
        view = document.view(pointer)
        branches = _branches(document, view)
        for (i, a), (j, b) in combinations(enumerate(branches), 2):
            found, value = _witness(document, a, b)
            if found:
                yield f"{pointer}/oneOf", (
                    f"branches {i} ({a.pointer}) and {j} ({b.pointer}) both accept {json.dumps(value)}, so oneOf "
                    f"rejects it; give every branch a required property with a distinct const (e.g. status)"
                )


@rule("discriminator-not-required", "warn")
def discriminator_not_required(document: Document) -> Iterator[tuple[str, str]]:
    """A ``discriminator`` property that some ``oneOf``/``anyOf`` branch does not require."""
    for pointer in document.schema_pointers():
        node = document.get(pointer)
        prop = (node.get("discriminator") or {}).get("propertyName") if isinstance(node.get("discriminator"), dict) else None
        if not prop:
            continue
        for keyword in ("oneOf", "anyOf"):
            missing = [f"{index} ({branch.pointer})"
                       for index, branch in enumerate(document.view(f"{pointer}/{keyword}/{i}")
                                                      for i, _ in enumerate(node.get(keyword) or []))
                       if prop not in branch.required]
            if missing:
                yield f"{pointer}/discriminator", (
                    f"discriminator {prop!r} is not required in {keyword} branch(es) {', '.join(missing)}"
                )


@rule("discriminator-mapping-mismatch", "error")
def discriminator_mapping_mismatch(document: Document) -> Iterator[tuple[str, str]]:
    """A discriminator mapping entry whose schema fixes the property to another value, or is not a branch."""
    for pointer in document.schema_pointers():
        node = document.get(pointer)
        discriminator = node.get("discriminator")
        if not isinstance(discriminator, dict) or not isinstance(discriminator.get("mapping"), dict):
            continue
        prop = discriminator.get("propertyName")
        branches = {b.get("$ref") for k in ("oneOf", "anyOf") for b in node.get(k) or [] if isinstance(b, dict)}
        for value, ref in discriminator["mapping"].items():
            where = f"{pointer}/discriminator/mapping/{escape_pointer(value)}"
            if not isinstance(ref, str) or not ref.startswith("#") or not document.has(ref[1:]):
                continue  # ref-unresolved reports it
            if branches and ref not in branches:
                yield where, f"{value!r} maps to {ref}, which is not one of the oneOf/anyOf branches"
                continue
            target = document.view(ref[1:])
            prop_pointer = target.properties.get(prop) if isinstance(prop, str) else None
            fixed = document.view(prop_pointer) if prop_pointer else None
            allowed = ([fixed.get("const")] if fixed and "const" in fixed.keywords
                       else fixed.get("enum") if fixed and isinstance(fixed.get("enum"), list) else None)
            if allowed is not None and value not in allowed:
                yield where, f"{value!r} maps to {ref}, whose {prop} only allows {allowed}"


@rule("enum-duplicate", "warn")
def enum_duplicate(document: Document) -> Iterator[tuple[str, str]]:
    """An enum that lists the same value twice."""
    for pointer in document.schema_pointers():
        values = document.get(pointer).get("enum")
        if not isinstance(values, list):
            continue
        seen: list[Any] = []
        for index, value in enumerate(values):
            if any(value == other and type(value) is type(other) for other in seen):
                yield f"{pointer}/enum/{index}", f"{value!r} is already in the enum"
            seen.append(value)


@rule("security-scheme-undefined", "error")
def security_scheme_undefined(document: Document) -> Iterator[tuple[str, str]]:
    """A security requirement naming a scheme that ``components.securitySchemes`` does not define."""
    schemes = (document.data.get("components") or {}).get("securitySchemes") or {}
    places = [("/security", document.data.get("security"))]
    places += [(f"{op}/security", document.get(op).get("security")) for _, _, op in document.operation_pointers()]
    for base, requirements in places:
        for index, requirement in enumerate(requirements if isinstance(requirements, list) else []):
            for name in requirement if isinstance(requirement, dict) else {}:
                if name not in schemes:
                    yield f"{base}/{index}", f"security scheme {name!r} is not defined in components.securitySchemes"


_TEMPLATE = re.compile(r"{([^{}]+)}")


@rule("path-parameter-mismatch", "error")
def path_parameter_mismatch(document: Document) -> Iterator[tuple[str, str]]:
    """A ``{name}`` in a path with no path parameter for it, or a path parameter the path lacks."""
    for route, item in (document.data.get("paths") or {}).items():
        in_route = set(_TEMPLATE.findall(route))
        base = f"/paths/{escape_pointer(route)}"
        shared = [f"{base}/parameters/{i}" for i, _ in enumerate((item if isinstance(item, dict) else {})
                                                                 .get("parameters") or [])]
        for _, method, op in ((r, m, p) for r, m, p in document.operation_pointers() if r == route and p.startswith("/paths/")):
            own = [f"{op}/parameters/{i}" for i, _ in enumerate(document.get(op).get("parameters") or [])]
            declared: dict[str, str] = {}
            for pointer in shared + own:
                param = document.get(document.follow(pointer))
                if isinstance(param, dict) and param.get("in") == "path":
                    name = param.get("name", "")
                    if not isinstance(name, str):
                        yield pointer, f"path parameter name must be a string, got {name!r}"
                        continue
                    declared[name] = pointer
                    if param.get("required") is not True:
                        yield pointer, f"path parameter {param.get('name')!r} must have required: true"
            for name in sorted(in_route - set(declared)):
                yield op, f"{method.upper()} {route} has {{{name}}} in its path but no path parameter {name!r}"
            for name in sorted(set(declared) - in_route):
                yield declared[name], f"path parameter {name!r} does not appear in {route}"


@rule("duplicate-operation-id", "error")
def duplicate_operation_id(document: Document) -> Iterator[tuple[str, str]]:
    """Two operations with the same operationId."""
    seen: dict[str, str] = {}
    for _, _, op in document.operation_pointers():
        op_id = document.get(op).get("operationId")
        if not isinstance(op_id, str):
            continue
        if op_id in seen:
            yield f"{op}/operationId", f"operationId {op_id!r} is already used by {seen[op_id]}"
        else:
            seen[op_id] = op


@rule("ref-unresolved", "error")
def ref_unresolved(document: Document) -> Iterator[tuple[str, str]]:
    """A ``$ref`` that points nowhere in the document."""
    stack: list[tuple[str, Any]] = [("", document.data)]
    while stack:
        pointer, node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and (not ref.startswith("#") or not document.has(ref[1:])):
                yield f"{pointer}/$ref", f"$ref {ref!r} does not resolve inside the document"
            stack += [(f"{pointer}/{escape_pointer(k)}", v) for k, v in node.items()]
        elif isinstance(node, list):
            stack += [(f"{pointer}/{i}", v) for i, v in enumerate(node)]



@rule("content-malformed", "error")
def content_malformed(document: Document) -> Iterator[tuple[str, str]]:
    """A request body or response whose ``content`` is not a map of media types to objects."""
    seen: set[str] = set()
    for container in document.media_containers():
        node = document.get(container)
        if container in seen or not isinstance(node, dict) or "content" not in node:
            continue
        seen.add(container)
        content = node["content"]
        if not isinstance(content, dict):
            yield f"{container}/content", f"content must be a map of media types, got {type(content).__name__}"
            continue
        for media, entry in content.items():
            if not isinstance(entry, dict):
                yield (f"{container}/content/{escape_pointer(media)}",
                       f"media type {media!r} must be an object, got {type(entry).__name__}")


_RETURNED_IDS = ("id", "request_id")  # request fields that carry back an id an answer gave


def _body_schemas(document: Document, container: str) -> Iterator[str]:
    """Pointers of the JSON schemas of a request body or response, ``oneOf``/``anyOf`` branches included."""
    node = document.get(container)
    content = node.get("content") if isinstance(node, dict) else None
    for media, entry in content.items() if isinstance(content, dict) else ():
        if "json" not in str(media) or not isinstance(entry, dict) or "schema" not in entry:
            continue
        pointer = document.follow(f"{container}/content/{escape_pointer(media)}/schema")
        yield pointer
        for keyword in ("oneOf", "anyOf"):
            for index, _ in enumerate(document.view(pointer).get(keyword) or []):
                yield document.follow(f"{document.view(pointer).origin[keyword]}/{keyword}/{index}")


def _compatible(sent: set[str], given: set[str]) -> bool:
    return bool(sent & given) or ("number" in sent and "integer" in given)


@rule("id-type-mismatch", "warn")
def id_type_mismatch(document: Document) -> Iterator[tuple[str, str]]:
    """A request field that sends back an answer's ``id`` (``id``, ``request_id``) with another type."""
    given: dict[str, set[str]] = {}
    requests: list[str] = []
    for _, _, operation in document.operation_pointers():
        if document.has(f"{operation}/requestBody"):
            requests += _body_schemas(document, document.follow(f"{operation}/requestBody"))
        responses = document.get(operation).get("responses")
        for code in responses if isinstance(responses, dict) else ():
            for schema in _body_schemas(document, document.follow(f"{operation}/responses/{escape_pointer(code)}")):
                prop = document.view(schema).properties.get("id")
                if prop is not None and document.view(prop).types() - {"null"}:
                    given[prop] = document.view(prop).types() - {"null"}
    answered = set().union(*given.values()) if given else set()
    if not answered:
        return
    where = sorted(given)[0]
    for schema in dict.fromkeys(requests):
        view = document.view(schema)
        for name in _RETURNED_IDS:
            prop = view.properties.get(name)
            if prop is None:
                continue
            sent = document.view(prop).types() - {"null"}
            if sent and not _compatible(sent, answered):
                yield document.view(prop).at("type"), (
                    f"{name} is typed {' or '.join(sorted(sent))}, but the id the answers give is "
                    f"{' or '.join(sorted(answered))} ({where}): a client sends back the id it was given"
                )
