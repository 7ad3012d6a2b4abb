"""A fast validator compiled from a request-body schema.

General JSON Schema engines walk the schema for every request. Request bodies in
this contract are flat objects of scalar fields, so :meth:`BodyValidator.compile`
turns each property into a precomputed :class:`FieldRule` (type test, coercer,
constraint checks) once, and :meth:`BodyValidator.validate` only runs those.

The compiler supports exactly the keywords this contract uses and refuses any
other assertion keyword, so a spec change can never be silently under-validated.
Its verdicts match openapi-core's (after the documented coercions); a
hypothesis test in ``tests/spec/test_oracle.py`` holds it to that.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from .coercion import Coercer, Coercions, TooManyDigits
from .errors import MISSING, Problem, SpecLoadError, show_value

if TYPE_CHECKING:
    from .loader import Spec

__all__ = ["BodyValidator", "FieldRule"]

# Keywords that only annotate; they never make a value invalid.
_ANNOTATIONS = frozenset(
    {"description", "title", "default", "examples", "example", "format", "deprecated",
     "readOnly", "writeOnly", "$comment"}
)
_ASSERTIONS = frozenset(
    {"type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
     "multipleOf", "minLength", "maxLength", "pattern"}
)
_ARTICLES = {"integer": "an integer", "number": "a number", "string": "a string",
             "boolean": "a boolean", "null": "null", "object": "an object", "array": "an array"}

Check = Callable[[Any], bool]


def _is_number(value: Any) -> bool:
    kind = type(value)
    return kind is int or kind is float


_PYTHON_TYPES = {"integer": int, "number": float, "string": str, "boolean": bool, "null": type(None),
                 "object": dict, "array": list}


def _type_test(json_type: str) -> Check:
    if json_type == "integer":
        return lambda v: type(v) is int or (type(v) is float and v.is_integer())
    if json_type == "number":
        return _is_number
    python_type = _PYTHON_TYPES.get(json_type)
    if python_type is None:
        raise SpecLoadError(f"unknown JSON type {json_type!r}")
    return lambda v: type(v) is python_type


def _types_test(json_types: tuple[str, ...]) -> Check:
    if len(json_types) == 1:
        return _type_test(json_types[0])
    for json_type in json_types:
        if json_type not in _PYTHON_TYPES:
            raise SpecLoadError(f"unknown JSON type {json_type!r}")
    python_types = frozenset(_PYTHON_TYPES[t] for t in json_types) | ({int} if "number" in json_types else set())
    if "integer" in json_types and "number" not in json_types:
        return lambda v: type(v) in python_types or (type(v) is float and v.is_integer())
    return lambda v: type(v) in python_types


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality: booleans never equal numbers, 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _multiple_of(divisor: int | float) -> Check:
    # Mirrors jsonschema's multipleOf, float quotients included, so verdicts agree.
    def check(v: Any) -> bool:
        if not _is_number(v):
            return True
        if isinstance(divisor, float):
            quotient = v / divisor
            try:
                return int(quotient) == quotient
            except OverflowError:
                return False
        return not (v % divisor)

    return check


@dataclass(frozen=True, slots=True)
class FieldRule:
    """Everything needed to check and normalise one property."""

    name: str
    json_types: tuple[str, ...]
    accepts: Check
    coerce: Coercer | None
    checks: tuple[tuple[Check, str, Callable[[Any], str]], ...]
    integral: bool
    default: Any
    clamp_maximum: int | float | None
    schema: Mapping[str, Any]

    def type_problem(self, value: Any) -> Problem:
        expected = _join([_ARTICLES.get(t, t) for t in self.json_types])
        return Problem(self.name, "type", f"{self.name} must be {expected}, got {show_value(value)}", value)


def _constraint_checks(name: str, schema: Mapping[str, Any]) -> list[tuple[Check, str, Callable[[Any], str]]]:
    checks: list[tuple[Check, str, Callable[[Any], str]]] = []

    def add(rule: str, test: Check, explain: str) -> None:
        checks.append((test, rule, lambda v, e=explain: f"{name} must {e}, got {show_value(v)}"))

    if "enum" in schema:
        options = list(schema["enum"])
        if all(type(o) is str for o in options):
            members = frozenset(options)
            test: Check = lambda v: type(v) is str and v in members
        else:
            test = lambda v: any(_json_equal(v, o) for o in options)
        add("enum", test, "be one of " + ", ".join(show_value(o) for o in options))
    if "const" in schema:
        const = schema["const"]
        add("const", lambda v: _json_equal(v, const), f"be {show_value(const)}")
    if "minimum" in schema:
        lo = schema["minimum"]
        add("minimum", lambda v: not _is_number(v) or v >= lo, f"be at least {lo}")
    if "maximum" in schema:
        hi = schema["maximum"]
        add("maximum", lambda v: not _is_number(v) or v <= hi, f"be at most {hi}")
    if "exclusiveMinimum" in schema:
        xlo = schema["exclusiveMinimum"]
        add("exclusiveMinimum", lambda v: not _is_number(v) or v > xlo, f"be greater than {xlo}")
    if "exclusiveMaximum" in schema:
        xhi = schema["exclusiveMaximum"]
        add("exclusiveMaximum", lambda v: not _is_number(v) or v < xhi, f"be less than {xhi}")
    if "multipleOf" in schema:
        add("multipleOf", _multiple_of(schema["multipleOf"]), f"be a multiple of {schema['multipleOf']}")
    if "minLength" in schema:
        n = schema["minLength"]
        explain = "not be empty" if n == 1 else f"be at least {n} characters long"
        add("minLength", lambda v: type(v) is not str or len(v) >= n, explain)
    if "maxLength" in schema:
        m = schema["maxLength"]
        add("maxLength", lambda v: type(v) is not str or len(v) <= m, f"be at most {m} characters long")
    if "pattern" in schema:
        regex = re.compile(schema["pattern"])
        hint = schema.get("x-t2i-expect") or f"match the pattern {schema['pattern']}"
        add("pattern", lambda v: type(v) is not str or regex.search(v) is not None, hint)
    return checks


class BodyValidator:
    """Checks, coerces and fills defaults for one flat JSON request body."""

    def __init__(self, fields: Mapping[str, FieldRule], required: tuple[str, ...], *,
                 null_is_absent: bool = False) -> None:
        self.fields = dict(fields)
        self.required = required
        #: ``x-t2i-null-means-absent``: a null for an optional field that does not take null is "not sent".
        self.null_is_absent = null_is_absent
        self._optional = frozenset(fields) - frozenset(required)
        #: Deprecated second names (``x-t2i-alias-of``): alias -> the field it fills when that one is absent.
        self.aliases: dict[str, str] = {
            name: rule.schema["x-t2i-alias-of"] for name, rule in self.fields.items() if rule.schema.get("x-t2i-alias-of")
        }
        unknown = {target for target in self.aliases.values() if target not in self.fields}
        if unknown:
            raise SpecLoadError(f"x-t2i-alias-of names fields that do not exist: {sorted(unknown)}")
        #: Fields holding comma-separated lists (``x-t2i-list``), with their list settings.
        self.list_fields: dict[str, Mapping[str, Any]] = {
            name: rule.schema["x-t2i-list"] for name, rule in self.fields.items() if rule.schema.get("x-t2i-list")
        }

    @classmethod
    def compile(cls, spec: Spec, schema: Mapping[str, Any]) -> BodyValidator:
        schema = spec.resolve(schema)
        if schema.get("type") != "object":
            raise SpecLoadError("request bodies must be schemas of type object")
        unsupported = set(schema) - {"type", "required", "properties", "description", "title", "examples"}
        if unsupported:
            raise SpecLoadError(f"request body schema uses unsupported keywords {sorted(unsupported)}")
        return cls.from_properties(spec, schema.get("properties") or {}, schema.get("required") or ())

    @classmethod
    def from_parameters(cls, spec: Spec, parameters: list[Mapping[str, Any]]) -> BodyValidator:
        """A validator for an operation's path/query parameters, keyed by parameter name."""
        resolved = [spec.resolve(p) for p in parameters]
        return cls.from_properties(
            spec,
            {p["name"]: p["schema"] for p in resolved},
            [p["name"] for p in resolved if p.get("required")],
        )

    @classmethod
    def from_properties(cls, spec: Spec, properties: Mapping[str, Any], required: Any) -> BodyValidator:
        coercions = Coercions.from_document(spec.document)
        fields = {name: cls.compile_field(spec, name, prop, coercions) for name, prop in properties.items()}
        required = tuple(required)
        undefined = [name for name in required if name not in fields]
        if undefined:
            raise SpecLoadError(f"required properties {undefined} are not defined")
        return cls(fields, required, null_is_absent=bool(spec.document.get("x-t2i-null-means-absent")))

    @staticmethod
    def compile_field(spec: Spec, name: str, prop: Mapping[str, Any], coercions: Coercions) -> FieldRule:
        merged = dict(spec.resolve(prop))
        merged.update({k: v for k, v in prop.items() if k != "$ref"})  # 3.1: siblings of $ref apply too
        unknown = {k for k in merged if not k.startswith("x-")} - _ANNOTATIONS - _ASSERTIONS
        if unknown:
            raise SpecLoadError(f"property {name!r} uses keywords the fast validator does not support: {sorted(unknown)}")
        raw_type = merged.get("type")
        if raw_type is None:
            raise SpecLoadError(f"property {name!r} has no type")
        json_types = (raw_type,) if isinstance(raw_type, str) else tuple(raw_type)
        return FieldRule(
            name=name,
            json_types=json_types,
            accepts=_types_test(json_types),
            coerce=coercions.for_types(json_types),
            checks=tuple(_constraint_checks(name, merged)),
            integral="integer" in json_types and "number" not in json_types,
            default=merged.get("default", MISSING),
            clamp_maximum=merged.get("x-t2i-clamp-maximum"),
            schema=merged,
        )

    def validate(self, body: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
        """Coerce and check every known field of ``body``.

        Returns the coerced values of the known fields present, and every problem
        found (required fields first). Unknown fields are left for the caller.
        """
        problems = [Problem(n, "required", f"{n} is required") for n in self.required if n not in body]
        values: dict[str, Any] = {}
        fields = self.fields
        for name, value in body.items():
            rule = fields.get(name)
            if rule is None:
                continue
            if not rule.accepts(value):
                if value is None and self.null_is_absent and name in self._optional:
                    continue
                try:
                    coerced = rule.coerce(value) if rule.coerce is not None and type(value) is str else MISSING
                except TooManyDigits as exc:
                    problems.append(Problem(name, "digits", f"{name} must be a number in the "
                                            f"allowed range, got {exc}", value))
                    continue
                if coerced is MISSING:
                    problems.append(rule.type_problem(value))
                    continue
                value = coerced
            elif rule.integral and type(value) is float:
                value = int(value)
            for test, rule_name, explain in rule.checks:
                if not test(value):
                    problems.append(Problem(name, rule_name, explain(value), body[name]))
            values[name] = value
        return values, problems

    def complete(self, values: dict[str, Any]) -> dict[str, Any]:
        """Apply aliases, fill defaults for absent fields and apply ``x-t2i-clamp-maximum`` caps, in place."""
        for alias, target in self.aliases.items():
            if alias in values:
                value = values.pop(alias)
                values.setdefault(target, value)
        for name, rule in self.fields.items():
            if name in self.aliases:
                continue
            if name not in values:
                if rule.default is not MISSING:
                    values[name] = rule.default
            elif rule.clamp_maximum is not None and _is_number(values[name]) and values[name] > rule.clamp_maximum:
                values[name] = rule.clamp_maximum
        return values
