"""CI formats of ``t2i lint`` and ``t2i diff`` (spec/reports.py): SARIF 2.1.0 judged by a
registry implementation of its object model (sarif-pydantic), GitHub annotation lines at
the spec's file and line, JUnit, Markdown and several outputs in one run."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import BaseModel
from sarif_pydantic import Sarif

from t2i_contract.drift.cli import diff_command, lint_command
from t2i_contract.spec import SPEC_PATH
from t2i_contract.spec.reports import SpecLines

VENDOR = Path(__file__).resolve().parent / "fixtures" / "vendor-multi-lora-text2img.md"
ANNOTATION = re.compile(r"^::(error|warning|notice) (?:file=([^,]+),line=(\d+),)?title=([^:]+)::(.+)$")


def _run(command: Any, args: list[str]) -> Any:
    return CliRunner().invoke(command, args, catch_exceptions=False)


def _no_unknown_properties(model: Any, where: str = "$") -> list[str]:
    """sarif-pydantic keeps unknown properties as extras; the object model has none of ours."""
    found: list[str] = []
    if isinstance(model, BaseModel):
        found += [f"{where}.{name}" for name in (model.model_extra or {})]
        for name in type(model).model_fields:
            found += _no_unknown_properties(getattr(model, name), f"{where}.{name}")
    elif isinstance(model, list):
        for i, item in enumerate(model):
            found += _no_unknown_properties(item, f"{where}[{i}]")
    return found


def sarif_problems(text: str) -> list[str]:
    data = json.loads(text)
    try:
        log = Sarif.model_validate(data)
    except ValueError as exc:
        return [str(exc)]
    problems = _no_unknown_properties(log)
    if data.get("version") != "2.1.0":
        problems.append(f"version {data.get('version')!r}")
    for run in log.runs:
        rules = [rule.id for rule in run.tool.driver.rules or []]
        for result in run.results or []:
            if result.rule_index is not None and rules[result.rule_index] != result.rule_id:
                problems.append(f"ruleIndex {result.rule_index} is not {result.rule_id}")
    return problems


@pytest.mark.parametrize("args", [[str(VENDOR)], []], ids=["vendor-page", "our-spec"])
def test_lint_sarif_is_valid_sarif_2_1_0_with_rule_metadata(args: list[str]) -> None:
    result = _run(lint_command, [*args, "--format", "sarif"])
    assert sarif_problems(result.output) == []
    run = json.loads(result.output)["runs"][0]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert "oneof-ambiguous" in rules and rules["oneof-ambiguous"]["defaultConfiguration"]["level"] == "error"
    if args:
        results = run["results"]
        assert {r["ruleId"] for r in results} >= {"nullable-in-3.1", "oneof-ambiguous"}
        located = [r["locations"][0]["physicalLocation"] for r in results]
        assert all(p["artifactLocation"]["uri"].endswith("vendor-multi-lora-text2img.md") for p in located)
        assert all(p["region"]["startLine"] > 1 for p in located)


def test_the_sarif_check_refuses_broken_sarif() -> None:
    good = json.loads(_run(lint_command, [str(VENDOR), "--format", "sarif"]).output)
    misspelt = json.loads(json.dumps(good))
    misspelt["runs"][0]["results"][0]["ruleID"] = misspelt["runs"][0]["results"][0].pop("ruleId")
    bad_level = json.loads(json.dumps(good))
    bad_level["runs"][0]["results"][0]["level"] = "warn"
    no_message = json.loads(json.dumps(good))
    del no_message["runs"][0]["results"][0]["message"]
    for broken in (misspelt, bad_level, no_message):
        assert sarif_problems(json.dumps(broken)) != []


def test_lint_github_format_prints_annotations_at_the_spec_line() -> None:
    result = _run(lint_command, [str(VENDOR), "--format", "github"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines and all(ANNOTATION.match(line) for line in lines), result.output
    page = VENDOR.read_text().splitlines()
    nullable = next(ANNOTATION.match(line) for line in lines if "nullable-in-3.1" in line)
    assert nullable is not None and nullable.group(1) == "error"
    assert nullable.group(2).endswith("vendor-multi-lora-text2img.md")
    assert page[int(nullable.group(3)) - 1].strip().startswith("nullable:")


def test_diff_annotations_point_into_the_new_spec() -> None:
    result = _run(diff_command, [str(VENDOR), str(SPEC_PATH), "--format", "github"])
    files = {m.group(2) for m in map(ANNOTATION.match, result.output.splitlines()) if m and m.group(2)}
    assert any(f.endswith("spec/text2img.yaml") for f in files), result.output


def test_spec_lines_find_keys_and_stop_at_the_deepest_part_held(tmp_path: Path) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text("openapi: 3.1.0\npaths:\n  /a/b:\n    post:\n      tags: [x, y]\n")
    lines = SpecLines(path)
    assert lines.find("/paths/~1a~1b/post") == (3, 4)
    assert lines.find("/paths/~1a~1b/post/tags/1") == (5, 5)
    assert lines.find("/paths/~1a~1b/get/responses") == (2, 3)
    assert SpecLines(tmp_path / "missing.yaml").find("/paths") == (0, 0)


def test_several_formats_in_one_run(tmp_path: Path) -> None:
    sarif, junit, markdown = tmp_path / "l.sarif", tmp_path / "l.xml", tmp_path / "l.md"
    result = _run(lint_command, [str(VENDOR), "--format", "json", "--output", f"sarif={sarif}",
                                 "--output", f"junit={junit}", "--output", f"markdown={markdown}"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["findings"]
    assert sarif_problems(sarif.read_text()) == []
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and int(suite.get("failures", "0")) >= 2
    failing = {case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None}
    assert {"nullable-in-3.1", "oneof-ambiguous"} <= failing
    assert "| error | `oneof-ambiguous` |" in markdown.read_text()


def test_an_unknown_output_format_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(lint_command, ["--output", f"pdf={tmp_path / 'x.pdf'}"])
    assert result.exit_code == 2 and "pdf=" in result.output


def test_drift_reports_in_ci_formats_located_in_the_spec(drifting_server: Any, tmp_path: Path) -> None:
    from t2i_contract.drift.cli import drift_command

    def extra_field(path: str, code: int, body: Any) -> tuple[int, Any]:
        return code, (body | {"surprise": 1}) if isinstance(body, dict) and body.get("status") == "success" else body

    url = drifting_server(response_change=extra_field)
    sarif = tmp_path / "drift.sarif"
    result = _run(drift_command, ["--base-url", url, "--samples", "3", "--image-checks", "0", "--format", "github",
                                  "--fail-on", "info", "--output", f"sarif={sarif}"])
    assert result.exit_code == 1, result.output
    matches = [ANNOTATION.match(line) for line in result.stdout.splitlines()]
    assert matches and all(matches), result.stdout
    assert any(m and m.group(2) and m.group(2).endswith("spec/text2img.yaml") and "surprise" in m.group(5)
               for m in matches), result.stdout
    assert sarif_problems(sarif.read_text()) == []
    rules = {r["id"] for r in json.loads(sarif.read_text())["runs"][0]["tool"]["driver"]["rules"]}
    assert "undocumented-field" in rules
