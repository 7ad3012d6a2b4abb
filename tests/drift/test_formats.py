"""CI formats of ``t2i lint``, ``t2i diff`` and ``t2i drift`` (spec/reports.py): SARIF 2.1.0 judged by a
registry implementation of its object model (sarif-pydantic), GitHub annotation lines at
the spec's file and line (relative to the repository's root or --path-prefix, escaped as
GitHub reads them) with a summary line, one per distinct finding, JUnit, Markdown and
several outputs in one run."""
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
from t2i_contract.spec.reports import Entry, Run, SpecLines, render

VENDOR = Path(__file__).resolve().parent / "fixtures" / "vendor-multi-lora-text2img.md"
ANNOTATION = re.compile(r"^::(error|warning|notice) (?:file=([^,]+),line=(\d+),)?title=([^:]+)::(.+)$")


def annotations(output: str) -> tuple[list[re.Match[str]], str]:
    """A github report's annotation lines, each matched by :data:`ANNOTATION`, and its last line: the summary."""
    *lines, summary = output.rstrip("\n").splitlines()
    matches = [ANNOTATION.match(line) for line in lines]
    assert all(matches), output
    assert summary and not summary.startswith("::"), output
    return matches, summary  # type: ignore[return-value]


def unescape(text: str, property: bool = False) -> str:
    """What GitHub reads from an escaped message (or, with ``property``, a property value)."""
    pairs = [("%3A", ":"), ("%2C", ",")] if property else []
    for escaped, plain in [*pairs, ("%0D", "\r"), ("%0A", "\n"), ("%25", "%")]:
        text = text.replace(escaped, plain)
    return text


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
    matches, summary = annotations(result.output)
    page = VENDOR.read_text().splitlines()
    nullable = next(m for m in matches if "nullable-in-3.1" in m.group(4))
    assert nullable.group(1) == "error"
    assert nullable.group(2).endswith("vendor-multi-lora-text2img.md")
    assert page[int(nullable.group(3)) - 1].strip().startswith("nullable:")
    errors = sum(m.group(1) == "error" for m in matches)
    assert summary.startswith(f"t2i lint: {len(matches)} findings ({errors} error, ") and \
        summary.endswith(f", {len(matches)} distinct"), summary


def test_a_clean_lint_says_so_in_one_line() -> None:
    result = _run(lint_command, [str(SPEC_PATH), "--format", "github", "--path-prefix", str(SPEC_PATH.parent)])
    assert (result.exit_code, result.output) == (0, "t2i lint: no findings in text2img.yaml\n")


def _git_tree(tmp_path: Path) -> tuple[Path, Path]:
    """A git work tree (a .git folder is what marks one) holding a copy of the vendor page under specs/."""
    root = tmp_path / "checkout"
    (root / ".git").mkdir(parents=True)
    (root / "specs").mkdir()
    (root / "ci").mkdir()
    page = root / "specs" / VENDOR.name
    page.write_text(VENDOR.read_text())
    return root, page


def test_paths_are_relative_to_the_git_work_tree_holding_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, page = _git_tree(tmp_path)
    monkeypatch.chdir(root / "ci")  # a subfolder: paths are still the repository's, as GitHub maps them
    sarif = tmp_path / "l.sarif"
    result = _run(lint_command, [str(page), "--format", "github", "--output", f"sarif={sarif}"])
    matches, summary = annotations(result.stdout)
    assert {m.group(2) for m in matches} == {f"specs/{VENDOR.name}"}
    assert summary.startswith("t2i lint: ") and f" in specs/{VENDOR.name}, " in summary
    assert str(tmp_path) not in result.stdout and str(tmp_path) not in sarif.read_text()
    assert sarif_problems(sarif.read_text()) == []
    located = [r["locations"][0]["physicalLocation"]["artifactLocation"]
               for r in json.loads(sarif.read_text())["runs"][0]["results"]]
    assert located and all(a == {"uri": f"specs/{VENDOR.name}", "uriBaseId": "%SRCROOT%"} for a in located)


def test_path_prefix_sets_what_paths_are_relative_to(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, page = _git_tree(tmp_path)
    monkeypatch.chdir(root)
    result = _run(lint_command, [str(page), "--format", "github", "--path-prefix", str(root / "specs")])
    assert {m.group(2) for m in annotations(result.output)[0]} == {VENDOR.name}
    relative = _run(lint_command, [str(page), "--format", "github", "--path-prefix", "specs"])
    assert relative.output == result.output


def test_a_file_outside_the_root_is_named_in_the_message_never_by_an_absolute_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, page = _git_tree(tmp_path)
    monkeypatch.chdir(root)
    markdown = tmp_path / "l.md"
    result = _run(lint_command, [str(page), "--format", "github", "--path-prefix", str(root / "ci"),
                                 "--output", f"markdown={markdown}"])
    matches, summary = annotations(result.stdout)
    assert matches and all(m.group(2) is None for m in matches)  # no file GitHub could not find
    page_lines = page.read_text().splitlines()
    nullable = next(m for m in matches if "nullable-in-3.1" in m.group(4))
    line = int(re.findall(rf" in {re.escape(VENDOR.name)}:(\d+)\)$", unescape(nullable.group(5)))[0])
    assert page_lines[line - 1].strip().startswith("nullable:")
    assert str(tmp_path) not in result.stdout + markdown.read_text()
    assert f" in {VENDOR.name}, " in summary


def test_github_escaping_of_messages_and_properties(tmp_path: Path) -> None:
    spec = tmp_path / "odd: name, 100%.yaml"
    spec.write_text("openapi: 3.1.0\npaths:\n  /a: {}\n")
    message = "50% of\r\nbodies: a, b"
    run = Run(tool="t2i lint", rules=[], entries=[Entry("r,1", "error", message, "/paths/~1a")], text="",
              json={}, spec_files=[spec], root=tmp_path)
    [line, _summary] = render(run, "github").splitlines()
    assert line == ("::error file=odd%3A name%2C 100%25.yaml,line=3,title=t2i lint%3A r%2C1::"
                    "50%25 of%0D%0Abodies: a, b (/paths/~1a)")
    match = ANNOTATION.match(line)
    assert match is not None
    assert unescape(match.group(2), property=True) == spec.name
    assert unescape(match.group(4), property=True) == "t2i lint: r,1"
    assert unescape(match.group(5)) == f"{message} (/paths/~1a)"


def test_one_annotation_per_distinct_finding_with_its_count(tmp_path: Path) -> None:
    spec = tmp_path / "doc.yaml"
    spec.write_text("openapi: 3.1.0\npaths:\n  /a: {}\n  /b: {}\n")
    same = Entry("rule-a", "warn", "m", "/paths/~1a", "example 1")
    entries = [same, Entry("rule-a", "warn", "m", "/paths/~1a", "example 2"), same,
               Entry("rule-a", "warn", "m", "/paths/~1b"),  # the same finding elsewhere
               Entry("rule-a", "warn", "other", "/paths/~1a"),  # another message, same place
               Entry("rule-b", "warn", "m", "/paths/~1a"),  # another rule
               Entry("rule-a", "error", "m", "/paths/~1a")]  # another level
    run = Run(tool="t2i lint", rules=[], entries=entries, text="", json={}, spec_files=[spec], root=tmp_path)
    matches, summary = annotations(render(run, "github"))
    shown = [(m.group(1), m.group(3), unescape(m.group(4), True), unescape(m.group(5))) for m in matches]
    assert shown == [("warning", "3", "t2i lint: rule-a", "m (×3) (/paths/~1a)"),
                     ("warning", "4", "t2i lint: rule-a", "m (/paths/~1b)"),
                     ("warning", "3", "t2i lint: rule-a", "other (/paths/~1a)"),
                     ("warning", "3", "t2i lint: rule-b", "m (/paths/~1a)"),
                     ("error", "3", "t2i lint: rule-a", "m (/paths/~1a)")]
    assert summary == "t2i lint: 7 findings (1 error, 6 warning) in doc.yaml, 5 distinct"
    results = json.loads(render(run, "sarif"))["runs"][0]["results"]
    assert [r["properties"]["count"] for r in results] == [3, 1, 1, 1, 1]
    assert results[0]["message"]["text"] == "m (×3)\nThe first of 3:\nexample 1"
    assert sarif_problems(render(run, "sarif")) == []
    markdown = render(run, "markdown")
    assert "| warning | `rule-a` | `doc.yaml:3` `/paths/~1a` | m | 3 |" in markdown
    assert markdown.count("| `rule-a` |") == 4 and markdown.count("<details>") == 1
    assert markdown.rstrip().endswith(summary)


def test_diff_annotations_point_into_the_new_spec() -> None:
    result = _run(diff_command, [str(VENDOR), str(SPEC_PATH), "--format", "github",
                                 "--path-prefix", str(SPEC_PATH.parents[1])])
    matches, summary = annotations(result.output)
    assert "spec/text2img.yaml" in {m.group(2) for m in matches}, result.output
    keys = [(m.group(1), m.group(2), m.group(3), m.group(4), m.group(5)) for m in matches]
    assert len(keys) == len(set(keys))  # each distinct finding once
    assert summary.startswith("t2i diff: ") and " in spec/text2img.yaml, " in summary


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
    assert "| note | `description-contradicts-default` |" in markdown.read_text()  # the words text shows


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
    matches, summary = annotations(result.stdout)
    assert any(m.group(2) and m.group(2).endswith("spec/text2img.yaml") and "surprise" in m.group(5)
               for m in matches), result.stdout
    assert summary.startswith("t2i drift: ") and "distinct" in summary
    assert sarif_problems(sarif.read_text()) == []
    rules = {r["id"] for r in json.loads(sarif.read_text())["runs"][0]["tool"]["driver"]["rules"]}
    assert "undocumented-field" in rules
