"""Each diff rule against a fixture pair written for it: a small API, changed in one place."""
from __future__ import annotations

import copy
from typing import Any, Callable

import pytest

from t2i_contract.drift.diff import DIFF_RULES, diff_documents
from t2i_contract.spec.document import Document

Data = dict[str, Any]
Mutation = Callable[[Data], None]
S = "/components/schemas"
OP = "/paths/~1gen/post"
JSON = "application~1json"


def base() -> Data:
    def media(ref: str) -> Data:
        return {"content": {"application/json": {"schema": {"$ref": f"#{S}/{ref}"}}}}

    return {
        "openapi": "3.1.0", "info": {"title": "fixture", "version": "1"},
        "paths": {"/gen": {"post": {
            "requestBody": {"required": True, **media("Req")},
            "responses": {"200": {"description": "ok", **media("Res")},
                          "400": {"description": "bad", **media("Res")}},
        }}},
        "components": {"schemas": {
            "Req": {"type": "object", "required": ["prompt"], "properties": {
                "prompt": {"type": "string"},
                "width": {"type": "integer", "minimum": 256, "maximum": 1024, "default": 512},
                "mode": {"type": "string", "enum": ["a", "b"]},
                "slug": {"type": "string", "pattern": "^[a-z]+$"},
                "seed": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
                "tag": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            }},
            "Res": {"type": "object", "required": ["status", "id"], "properties": {
                "status": {"type": "string", "enum": ["success", "processing"]},
                "id": {"type": "integer"},
                "output": {"type": "array", "maxItems": 4, "items": {"type": "string"}},
                "tip": {"type": "string"},
                "extra": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
                "more": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            }},
        }},
    }


def _req(data: Data) -> Data:
    return data["components"]["schemas"]["Req"]


def _res(data: Data) -> Data:
    return data["components"]["schemas"]["Res"]


def _op(data: Data) -> Data:
    return data["paths"]["/gen"]["post"]


def _set(getter: Callable[[Data], Data], key: str, value: Any) -> Mutation:
    def mutate(data: Data) -> None:
        getter(data)[key] = value
    return mutate


def _prop(getter: Callable[[Data], Data], name: str) -> Callable[[Data], Data]:
    return lambda data: getter(data)["properties"][name]


def _delete(getter: Callable[[Data], Data], key: str) -> Mutation:
    return lambda data: getter(data).pop(key) and None


def _add_branch(getter: Callable[[Data], Data], keyword: str) -> Mutation:
    return lambda data: getter(data)[keyword].append({"type": "null"})


def _drop_branch(getter: Callable[[Data], Data], keyword: str) -> Mutation:
    return lambda data: getter(data)[keyword].pop() and None


def _rename_media(getter: Callable[[Data], Data]) -> Mutation:
    def mutate(data: Data) -> None:
        content = getter(data)["content"]
        content["text/plain"] = content.pop("application/json")
    return mutate


def _add_media(getter: Callable[[Data], Data]) -> Mutation:
    def mutate(data: Data) -> None:
        content = getter(data)["content"]
        content["application/x-ndjson"] = copy.deepcopy(content["application/json"])
    return mutate


def _param(required: bool) -> Data:
    return {"name": "X-Trace", "in": "header", "required": required, "schema": {"type": "string"}}


_request_body = lambda d: _op(d)["requestBody"]  # noqa: E731
_response_200 = lambda d: _op(d)["responses"]["200"]  # noqa: E731
W = _prop(_req, "width")

# rule id -> (change to OLD, change to NEW, pointer the finding must carry)
CASES: dict[str, tuple[Mutation | None, Mutation, str]] = {
    "endpoint-removed": (None, lambda d: d["paths"].pop("/gen") and None, OP),
    "endpoint-added": (None, lambda d: d["paths"].update({"/more": copy.deepcopy(d["paths"]["/gen"])}),
                       "/paths/~1more/post"),
    "request-body-now-required": (_set(_request_body, "required", False), lambda d: None, f"{OP}/requestBody/required"),
    "request-body-removed": (None, _delete(_op, "requestBody"), f"{OP}/requestBody"),
    "request-media-type-removed": (None, _rename_media(_request_body), f"{OP}/requestBody/content/{JSON}"),
    "request-media-type-added": (None, _add_media(_request_body), f"{OP}/requestBody/content/application~1x-ndjson"),
    "response-media-type-removed": (None, _rename_media(_response_200), f"{OP}/responses/200/content/{JSON}"),
    "response-media-type-added": (None, _add_media(_response_200), f"{OP}/responses/200/content/application~1x-ndjson"),
    "response-status-removed": (None, lambda d: _op(d)["responses"].pop("400") and None, f"{OP}/responses/400"),
    "response-status-added": (None, lambda d: _op(d)["responses"].update({"429": {"description": "slow"}}),
                              f"{OP}/responses/429"),
    "request-parameter-required-added": (None, _set(_op, "parameters", [_param(True)]), f"{OP}/parameters/0"),
    "request-parameter-added": (None, _set(_op, "parameters", [_param(False)]), f"{OP}/parameters/0"),
    "request-parameter-removed": (_set(_op, "parameters", [_param(False)]), lambda d: None, f"{OP}/parameters/0"),
    "request-type-changed": (None, _set(W, "type", "string"), f"{S}/Req/properties/width/type"),
    "response-type-changed": (None, _set(_prop(_res, "id"), "type", "string"), f"{S}/Res/properties/id/type"),
    "type-relaxed": (None, _set(W, "type", ["integer", "null"]), f"{S}/Req/properties/width/type"),
    "type-narrowed": (_set(_prop(_res, "id"), "type", ["integer", "string"]), lambda d: None,
                      f"{S}/Res/properties/id/type"),
    "request-enum-value-removed": (None, _set(_prop(_req, "mode"), "enum", ["a"]), f"{S}/Req/properties/mode/enum"),
    "request-enum-value-added": (None, _set(_prop(_req, "mode"), "enum", ["a", "b", "c"]),
                                 f"{S}/Req/properties/mode/enum"),
    "response-enum-value-added": (None, _set(_prop(_res, "status"), "enum", ["success", "processing", "queued"]),
                                  f"{S}/Res/properties/status/enum"),
    "response-enum-value-removed": (None, _set(_prop(_res, "status"), "enum", ["success"]),
                                    f"{S}/Res/properties/status/enum"),
    "request-range-narrowed": (None, _set(W, "maximum", 768), f"{S}/Req/properties/width/maximum"),
    "request-range-widened": (None, _set(W, "maximum", 2048), f"{S}/Req/properties/width/maximum"),
    "response-range-widened": (None, _set(_prop(_res, "output"), "maxItems", 8), f"{S}/Res/properties/output/maxItems"),
    "response-range-narrowed": (None, _set(_prop(_res, "output"), "maxItems", 2), f"{S}/Res/properties/output/maxItems"),
    "request-pattern-changed": (None, _set(_prop(_req, "slug"), "pattern", "^[a-z0-9]+$"),
                                f"{S}/Req/properties/slug/pattern"),
    "response-pattern-changed": (None, _set(_prop(_res, "tip"), "pattern", "^.+$"), f"{S}/Res/properties/tip/pattern"),
    "default-changed": (None, _set(W, "default", 768), f"{S}/Req/properties/width/default"),
    "annotation-changed": (None, _set(W, "description", "Pixels."), f"{S}/Req/properties/width/description"),
    "document-changed": (None, lambda d: d["info"].update({"version": "2"}), "/info"),
    "operation-id-changed": (_set(_op, "operationId", "gen"), _set(_op, "operationId", "generate"),
                             f"{OP}/operationId"),
    "security-changed": (None, _set(_op, "security", [{"apiKey": []}]), f"{OP}/security"),
    "request-property-removed": (None, lambda d: _req(d)["properties"].pop("slug") and None,
                                 f"{S}/Req/properties/slug"),
    "request-property-added": (None, lambda d: _req(d)["properties"].update({"style": {"type": "string"}}),
                               f"{S}/Req/properties/style"),
    "response-property-removed": (None, lambda d: _res(d)["properties"].pop("tip") and None,
                                  f"{S}/Res/properties/tip"),
    "response-property-added": (None, lambda d: _res(d)["properties"].update({"eta": {"type": "number"}}),
                                f"{S}/Res/properties/eta"),
    "request-required-added": (None, _set(_req, "required", ["prompt", "width"]), f"{S}/Req/required"),
    "request-required-removed": (None, _set(_req, "required", []), f"{S}/Req/required"),
    "response-required-removed": (None, _set(_res, "required", ["status"]), f"{S}/Res/required"),
    "response-required-added": (None, _set(_res, "required", ["status", "id", "tip"]), f"{S}/Res/required"),
    "request-additional-properties-closed": (None, _set(_req, "additionalProperties", False),
                                             f"{S}/Req/additionalProperties"),
    "request-oneof-branch-added": (None, _add_branch(_prop(_req, "seed"), "oneOf"), f"{S}/Req/properties/seed/oneOf/2"),
    "request-oneof-branch-removed": (None, _drop_branch(_prop(_req, "seed"), "oneOf"),
                                     f"{S}/Req/properties/seed/oneOf/1"),
    "response-oneof-branch-added": (None, _add_branch(_prop(_res, "extra"), "oneOf"),
                                    f"{S}/Res/properties/extra/oneOf/2"),
    "response-oneof-branch-removed": (None, _drop_branch(_prop(_res, "extra"), "oneOf"),
                                      f"{S}/Res/properties/extra/oneOf/1"),
    "request-anyof-branch-added": (None, _add_branch(_prop(_req, "tag"), "anyOf"), f"{S}/Req/properties/tag/anyOf/2"),
    "request-anyof-branch-removed": (None, _drop_branch(_prop(_req, "tag"), "anyOf"), f"{S}/Req/properties/tag/anyOf/1"),
    "response-anyof-branch-added": (None, _add_branch(_prop(_res, "more"), "anyOf"), f"{S}/Res/properties/more/anyOf/2"),
    "response-anyof-branch-removed": (None, _drop_branch(_prop(_res, "more"), "anyOf"),
                                      f"{S}/Res/properties/more/anyOf/1"),
}


def _pair(old_change: Mutation | None, new_change: Mutation) -> tuple[Document, Document]:
    old, new = base(), base()
    if old_change:
        old_change(old)
    new_change(new)
    return Document(old, "old"), Document(new, "new")


def test_every_diff_rule_has_a_case() -> None:
    assert set(CASES) == set(DIFF_RULES)


def test_identical_documents_have_no_findings() -> None:
    assert diff_documents(Document(base()), Document(base())) == []


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_change_is_reported_with_its_rule_level_and_pointer(rule_id: str) -> None:
    old, new = _pair(*CASES[rule_id][:2])
    findings = [f for f in diff_documents(old, new) if f.rule == rule_id]
    assert [f.path for f in findings] == [CASES[rule_id][2]], diff_documents(old, new)
    assert findings[0].level == DIFF_RULES[rule_id].level


def test_every_emitted_rule_is_a_registered_one_with_its_level() -> None:
    for old_change, new_change, _ in CASES.values():
        for finding in diff_documents(*_pair(old_change, new_change)):
            assert DIFF_RULES[finding.rule].level == finding.level, finding


def test_operation_summary_change_is_an_annotation_change() -> None:
    old, new = _pair(None, _set(_op, "summary", "Generate"))
    assert [(f.rule, f.path) for f in diff_documents(old, new)] == [("annotation-changed", f"{OP}/summary")]
