"""A contract pack's request, validated against the pack's own schema with jsonschema.

v6 requests take the toolkit's fast validator (``spec/validation.py``), made for
that one document's flat bodies. A pack's schemas use the rest of JSON Schema
(arrays of items, ``anyOf``, nested objects), so :func:`request_problems` checks
them with jsonschema, the reference implementation, through the document's own
validator (``Document.errors``), and words each failure as a
:class:`~t2i_contract.spec.Problem` naming the field, the rule and the value.
"""
from __future__ import annotations

from typing import Any, Mapping

from t2i_contract.spec import Problem, Spec
from t2i_contract.spec.document import escape_pointer
from t2i_contract.spec.loader import REQUEST_MEDIA_TYPES

__all__ = ["request_problems"]


def _body_pointer(spec: Spec, operation_id: str) -> str:
    pointer = spec.responses.operation_pointer(operation_id)
    for media in REQUEST_MEDIA_TYPES:
        candidate = f"{pointer}/requestBody/content/{escape_pointer(media)}/schema"
        if spec.has(candidate):
            return candidate
    return f"{pointer}/requestBody/content/{escape_pointer(REQUEST_MEDIA_TYPES[0])}/schema"


def request_problems(spec: Spec, operation_id: str, values: Mapping[str, Any]) -> list[Problem]:
    """Every way ``values`` breaks the operation's request schema, each naming its field and value."""
    problems = []
    for error in sorted(spec.errors(_body_pointer(spec, operation_id), dict(values)),
                        key=lambda e: [str(p) for p in e.absolute_path]):
        path = [str(part) for part in error.absolute_path]
        if error.validator == "required" and isinstance(error.validator_value, list):
            missing = [name for name in error.validator_value if name not in (error.instance or {})]
            field = ".".join(path + missing[:1])
            problems.append(Problem(field, "required", f"{field} is required", None))
            continue
        field = ".".join(path)
        value = error.instance
        problems.append(Problem(field, str(error.validator), f"{field or 'the body'}: {error.message}", value))
    return problems
