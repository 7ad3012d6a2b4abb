"""Wire coercion: driven by JSON type, never by field name."""
from __future__ import annotations

import pytest

from t2i_contract.spec import load_spec
from t2i_contract.spec.coercion import Coercions
from t2i_contract.spec.errors import MISSING

COERCIONS = Coercions.from_document(load_spec().document)


@pytest.mark.parametrize(
    ("types", "text", "expected"),
    [
        (("integer",), "512", 512),
        (("integer",), "-3", -3),
        (("integer", "null"), "0", 0),
        (("number",), "7.5", 7.5),
        (("number",), ".5", 0.5),
        (("number",), "1e1", 10.0),
        (("boolean",), "yes", True),
        (("boolean",), "No", False),
        (("boolean",), "TRUE", True),
        (("boolean",), "false", False),
    ],
    ids=lambda v: repr(v),
)
def test_wire_strings_are_coerced_to_the_schema_type(types: tuple[str, ...], text: str, expected: object) -> None:
    coerce = COERCIONS.for_types(types)
    assert coerce is not None
    value = coerce(text)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("types", "text"),
    [
        (("integer",), "12a"), (("integer",), " 512"), (("integer",), "٥"), (("integer",), "1.0"),
        (("integer",), ""), (("number",), "inf"), (("number",), "nan"), (("number",), "1e999"),
        (("boolean",), "y"), (("boolean",), "1"), (("boolean",), ""),
    ],
    ids=lambda v: repr(v),
)
def test_strings_outside_the_wire_forms_are_left_alone(types: tuple[str, ...], text: str) -> None:
    coerce = COERCIONS.for_types(types)
    assert coerce is not None and coerce(text) is MISSING


def test_fields_that_accept_strings_are_never_coerced() -> None:
    assert COERCIONS.for_types(("number", "string", "null")) is None
    assert COERCIONS.apply("0.5", ("number", "string", "null")) == "0.5"


def test_every_integer_field_of_the_request_accepts_a_digit_string() -> None:
    fields = load_spec().validator("text2img").fields
    integer_fields = [f for f in fields.values() if "integer" in f.json_types]
    assert len(integer_fields) >= 6
    for field in integer_fields:
        assert field.coerce is not None and field.coerce("8") == 8, field.name
