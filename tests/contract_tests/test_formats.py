"""``t2i test`` in CI formats: JUnit with measured times and one case per check, JSON, GitHub
annotations at the failing operation in the spec (one per distinct failure, with its count, and a
summary line, also on success), and SARIF judged by its object model."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner
from flask import Flask

from t2i_contract.contract_tests.cli import command
from t2i_contract.contract_tests.report import CHECKS
from t2i_contract.spec import SPEC_PATH
from tests.contract_tests.broken import BREAKAGES, Breakage, BrokenServer
from tests.drift.test_formats import ANNOTATION, annotations, sarif_problems, unescape
from tests.support import ServerThread

FAST = ["--max-examples", "2", "--seed", "3", "--webhook-timeout", "5", "--fetch-margin", "3"]


def test_junit_has_measured_times_and_json_says_the_same(mock_url: str, tmp_path: Path) -> None:
    junit, report = tmp_path / "t.xml", tmp_path / "t.json"
    result = CliRunner().invoke(command, ["--base-url", mock_url, *FAST, "--output", f"junit={junit}",
                                          "--output", f"json={report}", "--format", "github"])
    assert result.exit_code == 0, result.output
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(CHECKS) <= set(cases)
    times = {name: float(case.get("time", "0")) for name, case in cases.items()}
    data = json.loads(report.read_text())
    passed = [name for name, check in data["checks"].items() if check["outcome"] == "PASS"]
    timed = {"conformance", "no_server_error", "invalid_rejected", "valid_accepted", "sample_count", "image_size",
             "determinism", "lifecycle", "webhook", "meta_echo", "defaults"}
    assert timed <= set(passed)
    assert all(times[name] > 0 for name in timed), times
    assert all(round(times[name], 3) == data["checks"][name]["seconds"] for name in passed)
    assert float(suite.get("time", "0")) > 0
    matches, summary = annotations(result.stdout)  # on success: the skips, then one line saying so
    assert all(m.group(1) == "notice" and unescape(m.group(5)).startswith("SKIP: ") for m in matches)
    skipped = sum(check["outcome"] == "SKIP" for check in data["checks"].values())
    assert len(matches) == skipped
    assert re.fullmatch(rf"t2i test: {len(passed)} passed, 0 failed, {skipped} skipped in \d+\.\ds", summary), summary


def _model_not_found(path: str, sent: object, status: int, answer: object) -> tuple[int, object]:
    """Every generation refused as a server without the suite's model refuses it: 25 identical failures."""
    if path.endswith(("/text2img", "/img2img", "/inpaint")) and status == 200:
        return 404, {"status": "error", "message": "Model not found: f222-diffusion"}
    return status, answer


def test_identical_failures_are_one_annotation_each_with_their_count(mock_app: Flask, tmp_path: Path) -> None:
    sarif, markdown, report = tmp_path / "t.sarif", tmp_path / "t.md", tmp_path / "t.json"
    with ServerThread(BrokenServer(mock_app, Breakage("model-not-found", frozenset(),
                                                      on_response=_model_not_found))) as server:
        result = CliRunner().invoke(command, ["--base-url", server.url, *FAST, "--format", "github",
                                              "--path-prefix", str(SPEC_PATH.parents[1]),
                                              "--output", f"sarif={sarif}", "--output", f"markdown={markdown}",
                                              "--output", f"json={report}"])
    assert result.exit_code == 1, result.output
    failures = json.loads(report.read_text())["checks"]["valid_accepted"]["failures"]
    refused = [f for f in failures if "Model not found" in f["seen"]]
    assert len(refused) >= 10 and len({f["seen"] for f in refused}) == 1  # the same failure, many times
    matches, summary = annotations(result.stdout)
    errors = [m for m in matches if m.group(1) == "error"]
    keys = [(m.group(2), m.group(3), m.group(4), m.group(5)) for m in errors]
    assert len(keys) == len(set(keys)) and len(errors) < len(failures)
    counted = {}
    for m in errors:
        found = re.search(r"\(×(\d+)\) \((/paths/\S+)\)$", unescape(m.group(5)))
        if "Model not found" in m.group(5):
            assert found is not None and m.group(2) == "spec/text2img.yaml", m.group(0)  # relative, never absolute
            counted[found.group(2)] = int(found.group(1))
    # one per operation: the same message at three places stays three annotations, each with its own count
    assert len(counted) == len({f["operation"] for f in refused}) == 3
    assert sum(counted.values()) == len(refused)
    assert any("none of the" in m.group(5) for m in errors)  # another message of the same check: its own line
    assert summary.endswith(f"; {len(failures)} failures, {len(errors)} distinct"), summary
    assert str(SPEC_PATH.parent) not in result.stdout + sarif.read_text() + markdown.read_text()
    assert sarif_problems(sarif.read_text()) == []
    results = [r for r in json.loads(sarif.read_text())["runs"][0]["results"] if r.get("kind", "fail") == "fail"]
    assert sorted(r["properties"]["count"] for r in results) == sorted([*counted.values(), 1])
    assert all(r["locations"][0]["physicalLocation"]["artifactLocation"] ==
               {"uri": "spec/text2img.yaml", "uriBaseId": "%SRCROOT%"} for r in results if "locations" in r
               and "physicalLocation" in r["locations"][0])
    rows = [line for line in markdown.read_text().splitlines() if line.startswith("| error | `valid_accepted` |")]
    assert len(rows) == len(errors) and sorted(int(row.split("|")[-2]) for row in rows) == \
        sorted([*counted.values(), 1])


def test_a_failing_check_is_an_annotation_at_its_operation_in_the_spec(mock_app: Flask, tmp_path: Path) -> None:
    breakage = next(b for b in BREAKAGES if b.name == "one-sample-short")
    sarif = tmp_path / "t.sarif"
    with ServerThread(BrokenServer(mock_app, breakage)) as server:
        result = CliRunner().invoke(command, ["--base-url", server.url, *FAST, "--format", "github",
                                              "--output", f"sarif={sarif}"])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("::")]
    matches = [ANNOTATION.match(line) for line in lines]
    assert lines and all(matches), result.stdout
    sample = [m for m in matches if m and m.group(4) == "t2i test%3A sample_count"]
    assert sample and Path(sample[0].group(2)).name == SPEC_PATH.name
    line = SPEC_PATH.read_text().splitlines()[int(sample[0].group(3)) - 1]
    assert re.match(r"\s*post:", line), line  # the text2img operation
    assert sarif_problems(sarif.read_text()) == []
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    assert {r["ruleId"] for r in results if r.get("kind", "fail") == "fail"} == {"sample_count"}
    said = {r["ruleId"]: r["kind"] for r in results if "kind" in r}  # what passed and what was skipped, said too
    assert said["conformance"] == "pass" and said["auth"] == "notApplicable"
