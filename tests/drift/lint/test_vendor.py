"""Lint on real documents: the vendor's published fragment and our own spec.

The vendor page is a copy kept in ``tests/drift/fixtures/`` (tests never read
outside the repository). ``spec/DECISIONS.md`` tags each upstream contradiction
that a linter can find with its rule id; every one of them must be reported.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from t2i_contract.drift.lint import lint_path
from t2i_contract.spec import SPEC_PATH

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
VENDOR = FIXTURES / "vendor-multi-lora-text2img.md"
_TAGGED = re.compile(r"^\*machine-checkable\*\s*\((?:heuristic\s+)?`([^`]+)`[^)]*\)\s*·\s*(.+)$", re.M)


def _decisions(root: Path) -> list[tuple[str, list[str]]]:
    """(rule id, [JSON-pointer fragments the finding must point into]) per machine-checkable entry."""
    entries = []
    for rule_id, where in _TAGGED.findall((root / "spec" / "DECISIONS.md").read_text(encoding="utf-8")):
        names = re.findall(r"`([^`]+)`", where)
        fragments = ["/" + n.replace(".", "/") if "." in n else f"/properties/{n}" for n in names]
        entries.append((rule_id, fragments))
    return entries


def test_decisions_tags_at_least_the_known_contradictions(repo_root: Path) -> None:
    rules = {rule_id for rule_id, _ in _decisions(repo_root)}
    assert {"default-out-of-range", "default-type-mismatch", "nullable-in-3.1", "oneof-ambiguous",
            "type-contradicts-description"} <= rules


def test_vendor_fragment_reports_every_machine_checkable_decision(repo_root: Path) -> None:
    findings = lint_path(VENDOR)
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
