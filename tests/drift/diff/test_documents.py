"""Diff on whole documents: endpoint matching across server base paths and parameter names."""
from __future__ import annotations

from pathlib import Path

from t2i_contract.drift.diff import diff_documents, diff_paths
from t2i_contract.spec.document import Document
from t2i_contract.spec import SPEC_PATH

VENDOR = Path(__file__).resolve().parent.parent / "fixtures" / "vendor-multi-lora-text2img.md"


def _doc(server: str, route: str, param: str | None = None) -> Document:
    op: dict = {"responses": {"200": {"description": "ok"}}}
    if param:
        op["parameters"] = [{"name": param, "in": "path", "required": True, "schema": {"type": "integer"}}]
    return Document({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
                     "servers": [{"url": server}], "paths": {route: {"post": op}}})


def test_same_endpoint_under_a_different_server_base_path_matches() -> None:
    old = _doc("https://api.example.com/api/v6/images", "/text2img")
    new = _doc("https://api.example.com", "/api/v6/images/text2img")
    assert [(f.rule, f.path) for f in diff_documents(old, new)] == [("document-changed", "/servers")]


def test_renamed_path_parameter_is_the_same_endpoint() -> None:
    assert diff_documents(_doc("/", "/fetch/{id}", "id"), _doc("/", "/fetch/{request_id}", "request_id")) == []


def test_vendor_fragment_to_our_spec_names_the_tightened_request_fields() -> None:
    findings = diff_paths(VENDOR, SPEC_PATH)
    narrowed = {f.path for f in findings if f.rule == "request-range-narrowed"}
    assert "/components/schemas/ImageGenerationParams/properties/width/minimum" in narrowed
    assert not any(f.rule == "endpoint-removed" for f in findings)
    steps = [f for f in findings if f.rule == "default-changed" and "num_inference_steps" in f.path]
    assert steps and "31 -> 20" in steps[0].message


def test_our_spec_against_itself_is_unchanged() -> None:
    assert diff_paths(SPEC_PATH, SPEC_PATH) == []
