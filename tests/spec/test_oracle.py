"""The fast validator against openapi-core, over thousands of generated bodies.

Bodies are built from the spec's own property schemas: valid values, the wire
forms clients send (digit strings, "yes"/"no"), wrong types, out-of-range and
off-grid numbers, unknown enum values, nulls, missing required fields and unknown
extra fields. For every body, the expected verdict is openapi-core's
``unmarshal_request`` on the body after the documented coercions
(``x-t2i-coercions``, and a null for an optional field without a null value
dropped: ``x-t2i-null-means-absent``), combined with the one documented
cross-field rule (the LoRA strength count). The fast path must agree on every single body.
"""
from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from t2i_contract.spec import RequestError, load_spec, parse_text2img
from t2i_contract.spec.coercion import Coercions

openapi_core = pytest.importorskip("openapi_core")
from openapi_core.testing import MockRequest  # noqa: E402

EXAMPLES = 2000
SPEC = load_spec()
VALIDATOR = SPEC.validator("text2img")
COERCIONS = Coercions.from_document(SPEC.document)
CORE = openapi_core.OpenAPI.from_file_path(str(SPEC.path))


def _numbers_near(schema: dict[str, Any], integral: bool) -> st.SearchStrategy[Any]:
    marks = [schema[k] for k in ("minimum", "maximum", "x-t2i-clamp-maximum") if k in schema]
    near = [m + d for m in marks for d in ((-1, 0, 1) if integral else (-0.05, 0, 0.05))]
    step = schema.get("multipleOf")
    if step:
        near += [m + d * step for m in marks for d in (-1, 1)] + [step * k for k in range(30, 130, 7)]
    base = st.integers(-10, 5000) if integral else st.floats(-5, 30, allow_nan=False)
    edges = st.sampled_from(near or [0])
    return st.one_of(edges, edges, edges, base, st.integers(-2**40, 2**40))


def _value(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Plausible and implausible values for one property."""
    raw = schema.get("type")
    types = [raw] if isinstance(raw, str) else list(raw)
    options: list[st.SearchStrategy[Any]] = [
        st.none(), st.booleans(), st.text(max_size=6), st.lists(st.integers(), max_size=2),
    ]
    if "enum" in schema:
        options += [st.sampled_from(schema["enum"])] * 3 + [st.sampled_from(schema["enum"]).map(str.lower)]
    if "pattern" in schema:
        options += [st.from_regex(schema["pattern"], fullmatch=True)] * 3
    if "integer" in types:
        nums = _numbers_near(schema, integral=True)
        options += [nums, nums, nums.map(str), nums.map(float), st.sampled_from(["12a", "1e3", " 512", "٥"])]
    if "number" in types:
        nums = _numbers_near(schema, integral=False)
        options += [nums, nums.map(str), st.sampled_from(["7.5", ".5", "1e1", "inf", "nan", "-"])]
    if "boolean" in types:
        options += [st.booleans(), st.sampled_from(["yes", "no", "YES", "True", "false", "y", "1", "0"])]
    if "string" in types:
        options += [st.text(min_size=1, max_size=20), st.just("")]
    if "minLength" in schema or "maxLength" in schema:
        options += [st.text(min_size=schema.get("maxLength", 10), max_size=schema.get("maxLength", 10) + 1)]
    return st.one_of(options)


def _prop(name: str) -> dict[str, Any]:
    return VALIDATOR.fields[name].schema


def _good(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values that satisfy one property's schema, in canonical or wire form."""
    raw = schema.get("type")
    types = [raw] if isinstance(raw, str) else list(raw)
    options: list[st.SearchStrategy[Any]] = [st.none()] if "null" in types else []
    if "enum" in schema:
        return st.one_of([st.sampled_from(schema["enum"]), *options])
    if "pattern" in schema and "string" in types:
        options.append(st.from_regex(schema["pattern"], fullmatch=True).filter(
            lambda s: len(s) <= schema.get("maxLength", 10**6) and len(s) >= schema.get("minLength", 0)))
    elif "string" in types:
        options.append(st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 20), 20)))
    if "integer" in types:
        lo, hi, step = schema.get("minimum", -100), schema.get("maximum", 100), schema.get("multipleOf", 1)
        ints = st.integers(-(-lo // step), hi // step).map(lambda k: k * step)
        options += [ints, ints.map(str)]
    if "number" in types:
        nums = st.floats(schema.get("minimum", -100), schema.get("maximum", 100), allow_nan=False)
        options += [nums, nums.map(str)]
    if "boolean" in types:
        options += [st.booleans(), st.sampled_from(["yes", "no", "Yes", "FALSE"])]
    return st.one_of(options)


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    """About half the bodies are valid but for at most one mutated field; the rest are noisy."""
    noisy = draw(st.booleans())
    mutated = draw(st.sampled_from(sorted(VALIDATOR.fields)))
    body: dict[str, Any] = {}
    for name in VALIDATOR.fields:
        required = name in VALIDATOR.required
        if (name == mutated and not noisy) or draw(st.floats(0, 1)) < (0.97 if required else 0.3):
            schema = _prop(name)
            bad = name == mutated if not noisy else draw(st.booleans())
            body[name] = draw(_value(schema) if bad else _good(schema))
    if draw(st.booleans()):
        body[draw(st.sampled_from(["X-Requested-With", "instant_response", "extra_field"]))] = draw(
            st.one_of(st.none(), st.integers(), st.text(max_size=5)))
    return body


def _absent_null(name: str, value: Any) -> bool:
    """``x-t2i-null-means-absent``: null for an optional field whose schema has no null is not sent."""
    if value is not None or name not in VALIDATOR.fields or name in VALIDATOR.required:
        return False
    return "null" not in VALIDATOR.fields[name].json_types and bool(SPEC.document.get("x-t2i-null-means-absent"))


def _coerced(body: dict[str, Any]) -> dict[str, Any]:
    return {k: COERCIONS.apply(v, VALIDATOR.fields[k].json_types) if k in VALIDATOR.fields else v
            for k, v in body.items() if not _absent_null(k, v)}


def _strength_count_ok(coerced: dict[str, Any]) -> bool:
    """The documented cross-field rule, written independently of spec/request.py."""
    models, strengths = coerced.get("lora_model"), coerced.get("lora_strength")
    n_models = len([m for m in models.split(",")]) if isinstance(models, str) and models.strip() else 0
    if isinstance(strengths, str):
        n_strengths = len(strengths.split(","))
    else:
        n_strengths = 0 if strengths is None else 1
    return n_strengths in (0, 1) or n_strengths == n_models


def openapi_core_accepts(body: dict[str, Any]) -> bool:
    coerced = _coerced(body)
    request = MockRequest("http://127.0.0.1:4010", "post", "/api/v6/images/text2img",
                          data=json.dumps(coerced).encode())
    return not CORE.unmarshal_request(request).errors and _strength_count_ok(coerced)


def fast_path_accepts(body: dict[str, Any]) -> bool:
    try:
        parse_text2img(body)
    except RequestError:
        return False
    return True


@pytest.mark.slow
def test_fast_path_agrees_with_openapi_core_on_generated_bodies() -> None:
    verdicts: list[bool] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(bodies())
    def check(body: dict[str, Any]) -> None:
        expected = openapi_core_accepts(body)
        assert fast_path_accepts(body) == expected, f"disagreement on {body!r}"
        verdicts.append(expected)

    check()
    assert len(verdicts) >= EXAMPLES
    # The corpus must really be mixed, or the agreement proves little.
    assert sum(verdicts) >= EXAMPLES * 0.05, f"only {sum(verdicts)} valid bodies"
    assert len(verdicts) - sum(verdicts) >= EXAMPLES * 0.05


def test_oracle_sees_the_wire_forms_as_valid(upstream_example: dict) -> None:
    assert openapi_core_accepts(upstream_example)
    assert fast_path_accepts(upstream_example)


def test_oracle_rejects_what_the_fast_path_rejects_for_a_range_error(upstream_example: dict) -> None:
    body = dict(upstream_example, width="2048")
    assert not openapi_core_accepts(body)
    assert not fast_path_accepts(body)


def _edge_values(schema: dict[str, Any]) -> list[Any]:
    """Each keyword's edges, just inside and just outside, as JSON values and as wire strings."""
    raw = schema.get("type")
    types = [raw] if isinstance(raw, str) else list(raw)
    integral = "integer" in types and "number" not in types
    delta = schema.get("multipleOf", 1) if integral else 0.01
    values: list[Any] = []
    for key in ("minimum", "maximum", "x-t2i-clamp-maximum"):
        if key in schema:
            for edge in (schema[key] - delta, schema[key], schema[key] + delta):
                values += [edge, str(edge)]
    if "multipleOf" in schema:
        values += [schema["minimum"] + 1, schema["maximum"] - 1]
    for option in schema.get("enum", []):
        values += [option, option.upper(), option + "x"]
    if "pattern" in schema:
        values += ["a", "a,b", "../etc", "a b", " a , b ", "0.5,1.0", "1.5", "0.05", ""]
    if "minLength" in schema:
        values += ["x" * (schema["minLength"] - 1), "x" * schema["minLength"]]
    if "maxLength" in schema:
        values += ["x" * schema["maxLength"], "x" * (schema["maxLength"] + 1)]
    return values + [None, True, "yes", "No", 1.5, "1.5", "12a", [], {}]


EDGE_CASES = [
    (name, value)
    for name, rule in VALIDATOR.fields.items()
    for value in _edge_values(rule.schema)
]


@pytest.mark.parametrize(("name", "value"), EDGE_CASES, ids=[f"{n}={v!r}" for n, v in EDGE_CASES])
def test_fast_path_agrees_with_openapi_core_at_every_schema_edge(name: str, value: Any) -> None:
    body = {"key": "k", "model_id": "m", "prompt": "p", name: value}
    if name == "lora_strength":
        body["lora_model"] = "a"
    assert fast_path_accepts(body) == openapi_core_accepts(body)
