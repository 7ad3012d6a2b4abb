"""Reading any OpenAPI document: YAML, JSON, Markdown pages; $ref, allOf and errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from t2i_contract.spec import Document, DocumentError, ResponseChecker, SpecLoadError, load_spec, read_document
from tests.drift.builders import document, operation, schema_doc

MD = """# A vendor page

```json
{"not": "the spec"}
```

````yaml POST /x
openapi: 3.0.3
info: {title: t, version: '1'}
paths: {}
````
"""


def test_markdown_page_yields_its_fenced_openapi_block(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(MD)
    assert read_document(page).version == "3.0.3"


def test_json_document_is_read(tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}}))
    assert read_document(path).is_31


@pytest.mark.parametrize(("name", "text", "says"), [
    ("missing.yaml", None, "cannot read"),
    ("list.yaml", "- a\n- b\n", "not an OpenAPI document"),
    ("broken.yaml", "openapi: [", "neither valid YAML nor JSON"),
    ("page.md", "# no spec here\n", "no fenced yaml block"),
], ids=["missing", "not-openapi", "bad-yaml", "markdown-without-block"])
def test_unreadable_documents_raise_document_error_naming_the_file(
        tmp_path: Path, name: str, text: str | None, says: str) -> None:
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(DocumentError, match=says) as info:
        read_document(path)
    assert info.value.source == str(path)


def test_view_merges_allof_and_remembers_where_each_keyword_lives() -> None:
    doc = schema_doc(Req={"allOf": [{"$ref": "#/components/schemas/Base"}], "required": ["a"],
                          "properties": {"b": {"type": "string"}}},
                     Base={"type": "object", "required": ["b"], "properties": {"a": {"type": "integer"}}})
    view = doc.view("/components/schemas/Req")
    assert view.properties == {"b": "/components/schemas/Req/properties/b", "a": "/components/schemas/Base/properties/a"}
    assert view.required == ["a", "b"]
    assert view.at("type") == "/components/schemas/Base/type"


def test_circular_ref_raises_instead_of_looping() -> None:
    doc = schema_doc(A={"$ref": "#/components/schemas/B"}, B={"$ref": "#/components/schemas/A"})
    with pytest.raises(DocumentError, match="circular"):
        doc.follow("/components/schemas/A")


def test_the_contract_is_a_document_and_keeps_its_lookups() -> None:
    spec = load_spec()
    assert isinstance(spec, Document)
    assert spec.resolve({"$ref": "#/components/schemas/Text2ImgRequest"}) == spec.schema("Text2ImgRequest")
    assert spec.pointer("/components/schemas") is spec.get("/components/schemas")
    with pytest.raises(SpecLoadError, match="does not resolve"):
        spec.pointer("/components/nothing")


def test_responses_of_a_30_document_are_judged_in_its_dialect() -> None:
    item = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer", "nullable": True}}}
    checker = ResponseChecker(document("3.0.3", paths={"/x": operation(responses={"200": item}, operationId="x")}))
    assert checker.check_answer("x", 200, "application/json", b'{"id": null}') == []
    assert checker.check_answer("x", 200, "application/json", b'{"id": "7"}') == ["id: '7' is not of type 'integer'"]
    assert checker.check_answer("x", 200, "text/html", b'{"id": 7}') == [
        "Content-Type is text/html, not application/json"]
    assert checker.check_answer("x", 201, "application/json", b"{}") == ["HTTP 201 is not a documented response of x"]
    assert checker.check_answer("x", 200, "application/json", b"<html>") == [
        "HTTP 200 body is not JSON (Content-Type application/json)"]
