"""``t2i test`` in CI formats: JUnit with measured times and one case per check, JSON, GitHub
annotations at the failing operation in the spec, and SARIF judged by its object model."""
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
from tests.contract_tests.broken import BREAKAGES, BrokenServer
from tests.drift.test_formats import ANNOTATION, sarif_problems
from tests.support import ServerThread

FAST = ["--max-examples", "2", "--seed", "3", "--webhook-timeout", "5", "--fetch-margin", "3"]


def test_junit_has_measured_times_and_json_says_the_same(mock_url: str, tmp_path: Path) -> None:
    junit, report = tmp_path / "t.xml", tmp_path / "t.json"
    result = CliRunner().invoke(command, ["--base-url", mock_url, *FAST, "--output", f"junit={junit}",
                                          "--output", f"json={report}"])
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
