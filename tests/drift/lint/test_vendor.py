"""Lint on real documents: the vendor's published fragment, its whole document and our own spec.

The vendor page is a copy kept in ``tests/drift/fixtures/`` (tests never read
outside the repository), beside the vendor's whole five-operation document
reconstructed from the facts we have (``vendor-community-api.yaml``).
``spec/DECISIONS.md`` tags each upstream contradiction that a linter can find
with its rule ids; on the whole document lint reports exactly those, each at a
field its entry names, and nothing else.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from t2i_contract.drift.lint import RULES, lint_path
from t2i_contract.spec import SPEC_PATH

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
VENDOR = FIXTURES / "vendor-multi-lora-text2img.md"
WHOLE = FIXTURES / "vendor-community-api.yaml"
_TAGGED = re.compile(r"^\*machine-checkable\*\s*\(([^)]*)\)\s*·\s*(.+)$", re.M)


def _decisions(root: Path) -> list[tuple[str, list[str]]]:
    """(rule id, [JSON-pointer fragments the finding must point into]) per rule of each machine-checkable entry."""
    entries = []
    for rules, where in _TAGGED.findall((root / "spec" / "DECISIONS.md").read_text(encoding="utf-8")):
        names = re.findall(r"`([^`]+)`", where)
        fragments = ["/" + n.replace(".", "/") if "." in n else f"/properties/{n}" for n in names]
        entries += [(rule_id, fragments) for rule_id in re.findall(r"`([^`]+)`", rules)]
    return entries


def test_decisions_tags_at_least_the_known_contradictions(repo_root: Path) -> None:
    rules = {rule_id for rule_id, _ in _decisions(repo_root)}
    assert {"default-out-of-range", "default-type-mismatch", "nullable-in-3.1", "oneof-ambiguous",
            "type-contradicts-description"} <= rules


def test_decisions_tags_parse_every_rule_of_an_entry(repo_root: Path) -> None:
    rules = [rule_id for rule_id, _ in _decisions(repo_root)]
    assert rules.count("description-contradicts-default") == 2  # D3 and D4, beside their own rules
    assert {"description-contradicts-range", "id-type-mismatch"} <= set(rules)
    assert all(rule_id in RULES for rule_id in rules), set(rules) - set(RULES)


def test_whole_vendor_document_reports_every_machine_checkable_decision(repo_root: Path) -> None:
    findings = lint_path(WHOLE)
    for rule_id, fragments in _decisions(repo_root):
        paths = [f.path for f in findings if f.rule == rule_id]
        assert paths, f"{rule_id} not reported"
        for fragment in fragments:
            assert any(fragment in p for p in paths), f"{rule_id}: no finding under {fragment} in {paths}"


@pytest.mark.parametrize(("rule_id", "pointer"), [
    ("default-type-mismatch", "/components/schemas/CommonImageGenerationParams/properties/enhance_prompt/default"),
    ("default-out-of-range", "/components/schemas/CommonImageGenerationParams/properties/num_inference_steps/default"),
    ("nullable-in-3.1", "/components/schemas/CommonImageGenerationParams/properties/vae/nullable"),
    ("oneof-ambiguous", "/paths/~1text2img/post/responses/200/content/application~1json/schema/oneOf"),
    ("type-contradicts-description", "/components/schemas/CommonImageGenerationParams/properties/lora_strength/type"),
    ("description-contradicts-default", "/components/schemas/CommonImageGenerationParams/properties/vae"),
    ("description-contradicts-range", "/components/schemas/CommonImageGenerationParams/properties/lora_strength"),
], ids=lambda v: v if not v.startswith("/") else "")
def test_vendor_fragment_findings_point_into_the_document(rule_id: str, pointer: str) -> None:
    assert pointer in [f.path for f in lint_path(VENDOR) if f.rule == rule_id]


def test_vendor_required_fields_from_allof_are_not_reported_as_undefined() -> None:
    # key and prompt are required by TextToImageRequest and defined in its allOf member.
    assert [f for f in lint_path(VENDOR) if f.rule == "required-undefined"] == []


def test_our_own_spec_lints_clean() -> None:
    assert lint_path(SPEC_PATH) == []


def test_vendor_oneof_overlap_is_bodies_without_status_not_error_bodies() -> None:
    """What ``oneof-ambiguous`` proves on the vendor fragment, checked with a validator.

    Success and Processing require nothing, so a body without ``status`` (``{}``, or
    ``{"message": "Invalid API key"}``) matches both and ``oneOf`` rejects it. An error
    body *with* ``"status": "error"`` is not ambiguous: the Success and Processing
    branches fix ``status`` with an enum, so only the Error branch accepts it.
    """
    from t2i_contract.spec.document import read_document

    doc = read_document(VENDOR)
    branch = {name: f"/components/schemas/ImageGeneration{name}Response" for name in ("Success", "Processing", "Error")}

    def matching(body: dict) -> list[str]:
        return [name for name, pointer in branch.items() if doc.accepts(pointer, body)]

    assert matching({}) == ["Success", "Processing"]
    assert matching({"message": "Invalid API key"}) == ["Success", "Processing"]
    assert matching({"status": "error", "message": "x"}) == ["Error"]
    (finding,) = [f for f in lint_path(VENDOR) if f.rule == "oneof-ambiguous"]
    assert "both accept {}" in finding.message


def test_whole_vendor_document_has_no_finding_beyond_the_tagged_decisions(repo_root: Path) -> None:
    """No false alarms: every finding is a tagged rule, at a field its DECISIONS entry names."""
    tagged = _decisions(repo_root)
    findings = lint_path(WHOLE)
    assert {f.rule for f in findings} == {rule_id for rule_id, _ in tagged}
    for finding in findings:
        assert any(rule_id == finding.rule and any(fragment in finding.path for fragment in fragments)
                   for rule_id, fragments in tagged), f"untagged: {finding.rule} at {finding.path}"


def test_whole_vendor_document_finds_the_ambiguous_oneof_of_every_operation_that_has_one() -> None:
    paths = sorted(f.path.split("/")[2] for f in lint_path(WHOLE) if f.rule == "oneof-ambiguous")
    assert paths == ["~1fetch", "~1img2img", "~1inpaint", "~1text2img"]  # model_reload's answer has no oneOf


def test_request_id_typed_string_against_integer_ids_is_found_only_in_the_whole_document() -> None:
    (finding,) = [f for f in lint_path(WHOLE) if f.rule == "id-type-mismatch"]
    assert finding.path == "/components/schemas/FetchQueuedImagesRequest/properties/request_id/type"
    assert finding.level == "warn" and "integer" in finding.message
    assert not [f for f in lint_path(VENDOR) if f.rule == "id-type-mismatch"]  # the fragment has no fetch


def test_the_whole_document_reconstructs_the_vendors_facts() -> None:
    """Its facts, read back: five operations, the required lists and the types the issue quotes."""
    from t2i_contract.spec.document import read_document

    doc = read_document(WHOLE)
    assert sorted(route for route, _, _ in doc.operation_pointers()) == [
        "/fetch", "/img2img", "/inpaint", "/model_reload", "/text2img"]
    schemas = doc.data["components"]["schemas"]
    assert schemas["ImageToImageRequest"]["required"] == ["key", "model_id", "init_image"]
    assert schemas["InpaintingRequest"]["required"] == ["key", "model_id", "init_image", "mask_image"]
    assert "prompt" not in schemas["ImageToImageRequest"]["required"]
    assert schemas["FetchQueuedImagesRequest"]["properties"]["request_id"]["type"] == "string"
    assert schemas["ReloadModelResponse"]["properties"]["status"]["enum"] == ["success", "error", "processing"]
    for name in ("ImageToImageRequest", "InpaintingRequest"):
        strength = schemas[name]["properties"]["strength"]
        assert (strength["type"], strength["minimum"], strength["maximum"]) == ("number", 0, 1)
