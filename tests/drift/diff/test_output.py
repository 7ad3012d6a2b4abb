"""What ``t2i diff`` prints: the same bytes on every run, JSON values, levels from the registry only."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from t2i_contract.drift.cli import diff_command
from t2i_contract.drift.diff import DIFF_RULES, diff_documents
from t2i_contract.drift.diff.rules import finding
from t2i_contract.spec.document import Document
from t2i_contract.spec import SPEC_PATH

from .test_rules import CASES, S, _prop, _req, _res, _set, base

VENDOR = Path(__file__).resolve().parents[1] / "fixtures" / "vendor-multi-lora-text2img.md"
# Mutations that would hide the others (the endpoint or its body gone) stay out of the many-changes pair.
_SHARED = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")
_HIDING = {"endpoint-removed", "request-body-removed", "request-media-type-removed", "response-media-type-removed"}


def _many_changes(tmp_path: Path) -> tuple[Path, Path]:
    """OLD and NEW files that differ by every applicable case of ``test_rules`` at once."""
    old, new = base(), base()
    for data in (old, new):
        # One schema reached through many properties: it is compared once, under the first name visited.
        data["components"]["schemas"]["Shared"] = {"type": "integer", "maximum": 10}
        _req(data)["properties"].update({name: {"$ref": f"#{S}/Shared"} for name in _SHARED})
    new["components"]["schemas"]["Shared"]["maximum"] = 5
    for rule_id, (old_change, new_change, _) in CASES.items():
        if rule_id in _HIDING or old_change is not None:
            continue
        try:
            new_change(new)
        except (KeyError, IndexError, AttributeError):
            continue  # an earlier case already changed the same place
    paths = tmp_path / "old.yaml", tmp_path / "new.yaml"
    for path, data in zip(paths, (old, new)):
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return paths


def _diff_in_subprocess(old: Path, new: Path, seed: str, fmt: str) -> str:
    code = "from t2i_contract.spec.cli import run; run()"
    env = os.environ | {"PYTHONHASHSEED": seed}
    done = subprocess.run([sys.executable, "-c", code, "diff", str(old), str(new), "--format", fmt],
                          capture_output=True, env=env, check=False)
    assert done.returncode in (0, 1), done.stderr.decode()
    return done.stdout.decode("utf-8")


@pytest.mark.parametrize("pair", ["many-changes", "vendor-to-ours"])
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_diff_output_is_identical_across_hash_seeds(tmp_path: Path, pair: str, fmt: str) -> None:
    if pair == "many-changes":
        old, new = _many_changes(tmp_path)
    else:
        old, new = VENDOR, tmp_path / "ours.yaml"
        new.write_bytes(SPEC_PATH.read_bytes())
    outputs = {seed: _diff_in_subprocess(old, new, seed, fmt) for seed in ("0", "1", "4242")}
    assert outputs["0"].count("\n") > 30  # many findings, so an unstable order would show
    assert outputs["1"] == outputs["0"]
    assert outputs["4242"] == outputs["0"]


def test_messages_show_json_values_not_python_reprs() -> None:
    old, new = base(), base()
    _prop(_req, "width")(old)["default"] = None
    _prop(_req, "width")(new)["default"] = True
    _set(_prop(_req, "mode"), "enum", ["a", None, False])(new)
    findings = diff_documents(Document(old, "old"), Document(new, "new"))
    text = "\n".join(f.message for f in findings)
    assert "default null -> true" in text
    assert "enum value(s) removed: \"b\"" in text
    assert "enum value(s) added: null, false" in text
    for python in ("None", "True", "False", "'"):
        assert python not in text, text


@pytest.mark.parametrize(("rule_id", "mutate"), [
    ("request-pattern-changed", lambda d: _prop(_req, "slug")(d).pop("pattern")),
    ("default-changed", lambda d: _prop(_res, "tip")(d).update({"default": "none"})),
], ids=["request-pattern-removed", "response-default-added"])
def test_a_rule_is_emitted_at_its_registered_level_in_every_direction(rule_id: str, mutate) -> None:  # type: ignore[no-untyped-def]
    old, new = base(), copy.deepcopy(base())
    mutate(new)
    found = [f for f in diff_documents(Document(old, "old"), Document(new, "new")) if f.rule == rule_id]
    assert [f.level for f in found] == [DIFF_RULES[rule_id].level] == ["warn"]


def test_an_unregistered_rule_cannot_be_emitted() -> None:
    with pytest.raises(LookupError, match="not registered"):
        finding("request-something-new", f"{S}/Req", "x")


def test_list_rules_prints_every_rule_with_its_level() -> None:
    result = CliRunner().invoke(diff_command, ["--list-rules"])
    assert result.exit_code == 0
    rows = [line.split()[:2] for line in result.output.splitlines()]
    assert [row[0] for row in rows] == list(DIFF_RULES)
    assert ["request-pattern-changed", "warning"] in rows
    assert ["request-enum-value-removed", "error"] in rows


def test_diff_without_documents_is_a_usage_error() -> None:
    result = CliRunner().invoke(diff_command, [])
    assert result.exit_code == 2 and "OLD and NEW" in result.output


def test_json_output_parses_and_keeps_lint_level_words(tmp_path: Path) -> None:
    old, new = _many_changes(tmp_path)
    data = json.loads(_diff_in_subprocess(old, new, "0", "json"))
    assert {f["level"] for f in data["findings"]} == {"error", "warn", "info"}
