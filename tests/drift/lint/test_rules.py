"""Each lint rule against a small document written for it: the broken one is reported
at the right JSON pointer, the fixed one is not."""
from __future__ import annotations

from typing import Any

import pytest

from t2i_contract.spec.document import Document
from t2i_contract.drift.lint import RULES
from t2i_contract.drift.lint.registry import run_rules

from ..builders import document, operation, schema_doc

S = "/components/schemas"
STATUS_BRANCH = {"type": "object", "properties": {"status": {"type": "string", "enum": ["success"]}}}


def _branch(status: str, required: bool) -> dict[str, Any]:
    branch: dict[str, Any] = {"type": "object", "properties": {"status": {"type": "string", "const": status},
                                                               "id": {"type": "integer"}}}
    if required:
        branch["required"] = ["status"]
    return branch


def _oneof(required: bool, discriminator: bool = False) -> Document:
    result: dict[str, Any] = {"oneOf": [{"$ref": f"#{S}/Ok"}, {"$ref": f"#{S}/Busy"}]}
    if discriminator:
        result["discriminator"] = {"propertyName": "status"}
    return schema_doc(Result=result, Ok=_branch("success", required), Busy=_branch("processing", required))


def _mapped(mapping: dict[str, str]) -> Document:
    doc = _oneof(required=True, discriminator=True)
    doc.data["components"]["schemas"]["Result"]["discriminator"]["mapping"] = mapping
    return doc


_EVERY_MEANING = {name: "prompt" for name in ("prompt", "negative_prompt", "size", "samples", "seed", "steps",
                                              "guidance", "loras", "scheduler", "model", "webhook", "output_form")}


def _hinted(semantics: dict[str, str]) -> Document:
    """A text2img operation whose x-t2i-operation maps ``semantics`` (every meaning to its one field, prompt)."""
    paths = {"/gen": operation({"type": "object", "properties": {"prompt": {"type": "string"}}},
                               operationId="gen", **{"x-t2i-operation": {
                                   "role": "generate", "kind": "text2img", "semantics": semantics}})}
    return document(paths=paths)


def _media_example(example: Any) -> Document:
    paths = {"/gen": operation({"type": "object", "properties": {"width": {"type": "integer"}}})}
    paths["/gen"]["post"]["requestBody"]["content"]["application/json"]["example"] = example
    return document(paths=paths)


def _response_examples(value: Any) -> Document:
    paths = {"/gen": operation(None, {"200": {"type": "object", "required": ["id"],
                                               "properties": {"id": {"type": "integer"}}}})}
    paths["/gen"]["post"]["responses"]["200"]["content"]["application/json"]["examples"] = {"one": {"value": value}}
    return document(paths=paths)


def _fetch_by(request_id: dict[str, Any]) -> Document:
    """A generation answering an integer id (in a oneOf branch) and a fetch sending it back as ``request_id``."""
    answer = {"oneOf": [{"type": "object", "properties": {"id": {"type": "integer"}}}, {"type": "string"}]}
    return document(paths={"/gen": operation({"type": "object"}, {"200": answer}),
                           "/fetch": operation({"type": "object", "properties": {"request_id": request_id}})})


# rule id -> (broken document, pointer of the finding, fixed document)
CASES: dict[str, tuple[Document, str, Document]] = {
    "default-type-mismatch": (
        schema_doc(Flag={"type": "boolean", "default": "yes"}), f"{S}/Flag/default",
        schema_doc(Flag={"type": "boolean", "default": True})),
    "default-not-in-enum": (
        schema_doc(Mode={"type": "string", "enum": ["a", "b"], "default": "c"}), f"{S}/Mode/default",
        schema_doc(Mode={"type": "string", "enum": ["a", "b"], "default": "a"})),
    "default-out-of-range": (
        schema_doc(Steps={"type": "integer", "minimum": 1, "maximum": 20, "default": 31}), f"{S}/Steps/default",
        schema_doc(Steps={"type": "integer", "minimum": 1, "maximum": 20, "default": 20})),
    "default-pattern-mismatch": (
        schema_doc(Slug={"type": "string", "pattern": "^[a-z]+$", "default": "Not A Slug"}), f"{S}/Slug/default",
        schema_doc(Slug={"type": "string", "pattern": "^[a-z]+$", "default": "slug"})),
    "default-invalid": (
        schema_doc(Obj={"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}, "default": {}}),
        f"{S}/Obj/default",
        schema_doc(Obj={"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}},
                        "default": {"a": "x"}})),
    "example-invalid": (
        _media_example({"width": "wide"}), "/paths/~1gen/post/requestBody/content/application~1json/example",
        _media_example({"width": 512})),
    "enum-type-mismatch": (
        schema_doc(Count={"type": "integer", "enum": [1, "two"]}), f"{S}/Count/enum/1",
        schema_doc(Count={"type": "integer", "enum": [1, 2]})),
    "empty-range": (
        schema_doc(Size={"type": "integer", "minimum": 10, "maximum": 5}), f"{S}/Size/minimum",
        schema_doc(Size={"type": "integer", "minimum": 5, "maximum": 10})),
    "nullable-in-3.1": (
        schema_doc(Vae={"type": "string", "nullable": True}), f"{S}/Vae/nullable",
        schema_doc("3.0.3", Vae={"type": "string", "nullable": True})),
    "required-undefined": (
        schema_doc(Req={"type": "object", "required": ["key", "prompt"], "properties": {"key": {"type": "string"}}}),
        f"{S}/Req/required/1",
        schema_doc(Req={"type": "object", "allOf": [{"$ref": f"#{S}/Common"}], "required": ["key", "prompt"],
                        "properties": {"key": {"type": "string"}}},
                   Common={"type": "object", "properties": {"prompt": {"type": "string"}}})),
    "default-on-required": (
        schema_doc(Req={"type": "object", "required": ["n"], "properties": {"n": {"type": "integer", "default": 1}}}),
        f"{S}/Req/properties/n/default",
        schema_doc(Req={"type": "object", "properties": {"n": {"type": "integer", "default": 1}}})),
    "schema-malformed": (
        schema_doc(Size={"type": "integer", "maximum": "ten"}), f"{S}/Size/maximum",
        schema_doc(Size={"type": "integer", "maximum": 10})),
    "oneof-ambiguous": (_oneof(required=False), f"{S}/Result/oneOf", _oneof(required=True)),
    "discriminator-not-required": (
        _oneof(required=False, discriminator=True), f"{S}/Result/discriminator",
        _oneof(required=True, discriminator=True)),
    "discriminator-mapping-mismatch": (
        _mapped({"success": f"#{S}/Busy", "processing": f"#{S}/Busy"}), f"{S}/Result/discriminator/mapping/success",
        _mapped({"success": f"#{S}/Ok", "processing": f"#{S}/Busy"})),
    "enum-duplicate": (
        schema_doc(Mode={"type": "string", "enum": ["a", "b", "a"]}), f"{S}/Mode/enum/2",
        schema_doc(Mode={"type": "string", "enum": ["a", "b"]})),
    "security-scheme-undefined": (
        document(paths={"/gen": operation(security=[{"apiKey": []}])}), "/paths/~1gen/post/security/0",
        document(paths={"/gen": operation(security=[{"apiKey": []}])},
                 components={"securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-Key"}}})),
    "path-parameter-mismatch": (
        document(paths={"/fetch/{id}": operation()}), "/paths/~1fetch~1{id}/post",
        document(paths={"/fetch/{id}": operation(parameters=[
            {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}])})),
    "duplicate-operation-id": (
        document(paths={"/a": operation(operationId="go"), "/b": operation(operationId="go")}),
        "/paths/~1b/post/operationId",
        document(paths={"/a": operation(operationId="go"), "/b": operation(operationId="went")})),
    "ref-unresolved": (
        schema_doc(A={"$ref": f"#{S}/Nowhere"}), f"{S}/A/$ref",
        schema_doc(A={"$ref": f"#{S}/B"}, B={"type": "string"})),
    "type-contradicts-description": (
        schema_doc(Strength={"type": "integer", "description": "One value, or comma-separated values (0.1 to 1)."}),
        f"{S}/Strength/type",
        schema_doc(Strength={"type": ["number", "string"], "description": "One value, or comma-separated values."})),
    "description-contradicts-default": (
        schema_doc(Flag={"type": "boolean", "default": False, "description": "Enhance it. Default is (true)."}),
        f"{S}/Flag/default",
        schema_doc(Flag={"type": "boolean", "default": True, "description": "Enhance it. Default is (true)."})),
    "content-malformed": (
        document(paths={"/gen": {"post": {"responses": {"200": {"description": "ok", "content": ["image/png"]}}}}}),
        "/paths/~1gen/post/responses/200/content",
        document(paths={"/gen": operation()})),
    "description-contradicts-range": (
        schema_doc(Samples={"type": "integer", "minimum": 1, "maximum": 4, "description": "Between 1 and 8 images."}),
        f"{S}/Samples",
        schema_doc(Samples={"type": "integer", "minimum": 1, "maximum": 4, "description": "Between 1 and 4 images."})),
    "id-type-mismatch": (
        _fetch_by({"type": "string"}), "/paths/~1fetch/post/requestBody/content/application~1json/schema/properties"
                                       "/request_id/type",
        _fetch_by({"type": ["integer", "null"]})),
    "operation-hint-invalid": (
        _hinted({"prompt": "promt"}), "/paths/~1gen/post/x-t2i-operation", _hinted({"prompt": "prompt"})),
    "semantics-unmapped": (
        _hinted({"prompt": "prompt"}), "/paths/~1gen/post/x-t2i-operation", _hinted(_EVERY_MEANING)),
}


def test_every_registered_rule_has_a_case() -> None:
    assert set(CASES) == set(RULES)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_broken_fixture_is_reported_at_its_pointer(rule_id: str) -> None:
    broken, pointer, _ = CASES[rule_id]
    findings = run_rules(broken, only=[rule_id])
    assert [f.path for f in findings] == [pointer], findings
    assert findings[0].level == RULES[rule_id].level and findings[0].message


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_fixed_fixture_is_clean(rule_id: str) -> None:
    _, _, fixed = CASES[rule_id]
    assert run_rules(fixed, only=[rule_id]) == []


def test_response_example_value_is_checked_through_named_examples() -> None:
    findings = run_rules(_response_examples({"id": "seven"}), only=["example-invalid"])
    assert [f.path for f in findings] == ["/paths/~1gen/post/responses/200/content/application~1json/examples/one/value"]
    assert "id: 'seven' is not of type 'integer'" in findings[0].message
    assert run_rules(_response_examples({"id": 7}), only=["example-invalid"]) == []


def test_schema_example_and_examples_list_are_checked() -> None:
    broken = schema_doc(W={"type": "integer", "maximum": 10, "example": 11, "examples": [5, 12]})
    paths = sorted(f.path for f in run_rules(broken, only=["example-invalid"]))
    assert paths == [f"{S}/W/example", f"{S}/W/examples/1"]


@pytest.mark.parametrize(("schema", "keyword"), [
    ({"type": "integer", "multipleOf": 8, "default": 500}, "multiple of 8"),
    ({"type": "string", "minLength": 3, "default": "ab"}, "is too short"),
    ({"type": "integer", "exclusiveMinimum": 0, "default": 0}, "less than or equal to the minimum"),
], ids=["multipleOf", "minLength", "exclusiveMinimum"])
def test_default_out_of_range_covers_every_bound_keyword(schema: dict[str, Any], keyword: str) -> None:
    findings = run_rules(schema_doc(X=schema), only=["default-out-of-range"])
    assert len(findings) == 1 and keyword in findings[0].message


def test_oneof_witness_is_shown_in_the_message() -> None:
    (finding,) = run_rules(_oneof(required=False), only=["oneof-ambiguous"])
    assert "both accept {}" in finding.message and f"{S}/Ok" in finding.message


def test_oneof_branches_of_disjoint_types_are_not_ambiguous() -> None:
    doc = schema_doc(Seed={"oneOf": [{"type": "integer"}, {"type": "null"}]},
                     Num={"oneOf": [{"type": "integer"}, {"type": "number"}]})
    findings = run_rules(doc, only=["oneof-ambiguous"])
    assert [f.path for f in findings] == [f"{S}/Num/oneOf"]  # 1 is both an integer and a number


def test_openapi_30_nullable_default_null_is_not_a_type_mismatch() -> None:
    doc = schema_doc("3.0.3", Vae={"type": "string", "nullable": True, "default": None})
    assert run_rules(doc, only=["default-type-mismatch"]) == []
    assert run_rules(schema_doc("3.1.0", Vae={"type": "string", "default": None}),
                     only=["default-type-mismatch"]) != []


def test_openapi_30_ref_siblings_are_ignored_when_merging() -> None:
    doc = schema_doc("3.0.3", Req={"$ref": f"#{S}/Base", "required": ["ghost"]},
                     Base={"type": "object", "properties": {"a": {"type": "string"}}})
    assert doc.view(f"{S}/Req").required == []
    doc31 = schema_doc("3.1.0", Req={"$ref": f"#{S}/Base", "required": ["ghost"]},
                       Base={"type": "object", "properties": {"a": {"type": "string"}}})
    assert [f.path for f in run_rules(doc31, only=["required-undefined"])] == [f"{S}/Req/required/0"]


def test_a_dangling_ref_does_not_stop_the_other_rules() -> None:
    doc = schema_doc(A={"type": "object", "required": ["x"], "properties": {"x": {"$ref": f"#{S}/Gone"}}},
                     Flag={"type": "boolean", "default": "yes"})
    rules = {f.rule for f in run_rules(doc)}
    assert {"ref-unresolved", "default-type-mismatch"} <= rules


def test_a_schema_no_validator_can_evaluate_is_malformed() -> None:
    findings = run_rules(schema_doc(Slug={"type": "string", "pattern": "([a-z"}), only=["schema-malformed"])
    assert [f.path for f in findings] == [f"{S}/Slug"] and "cannot be evaluated" in findings[0].message
    # The default rules skip that schema instead of crashing; schema-malformed has said what is wrong.
    broken = schema_doc(Slug={"type": "string", "pattern": "([a-z", "default": "x"})
    assert run_rules(broken, only=["default-pattern-mismatch"]) == []


def test_a_path_parameter_whose_name_is_not_a_string_is_a_finding_not_a_crash() -> None:
    """Found by tests/drift/test_robustness.py: ``name: []`` made the rule raise (unhashable list)."""
    doc = document(paths={"/fetch/{id}": operation(parameters=[{"name": [], "in": "path", "required": True}])})
    findings = run_rules(doc, only=["path-parameter-mismatch"])
    assert [(f.path, f.message) for f in findings] == [
        ("/paths/~1fetch~1{id}/post/parameters/0", "path parameter name must be a string, got []"),
        ("/paths/~1fetch~1{id}/post", "POST /fetch/{id} has {id} in its path but no path parameter 'id'"),
    ]
