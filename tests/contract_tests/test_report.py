"""Failure reports: curl reproducers that really reproduce, grouping by check, JUnit XML, settings."""
from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from t2i_contract.contract_tests.client import Client, Exchange
from t2i_contract.contract_tests.errors import ConfigError
from t2i_contract.contract_tests.report import CHECKS, Report
from t2i_contract.contract_tests.settings import Settings
from t2i_contract.spec import load_spec

SPEC = load_spec()


def client(url: str, key: str = "secret-key") -> Client:
    return Client(SPEC, url, key=key, timeout=10, retries=0, max_retry_wait=0)


def shell(command: str, key: str) -> str:
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30,
                          env=os.environ | {"T2I_KEY": key})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_curl_reproducer_sends_the_same_body_with_the_key_from_the_environment(mock_url: str) -> None:
    body = {"key": "secret-key", "model_id": "m", "prompt": "it's a \"quoted\" prompt, naïve 🎨",
            "width": "256", "height": 256, "seed": 11}
    sent = client(mock_url).text2img(body)
    command = sent.curl()
    assert "secret-key" not in command and "'\"$T2I_KEY\"'" in command
    replayed = json.loads(shell(command, "secret-key"))
    assert replayed["meta"] == sent.json["meta"]  # same normalised request, same seed
    assert shell(command.replace("curl -sS", "curl -sS -o /dev/null -w %{http_code}"), "k") == "200"


def test_curl_reproducer_keeps_a_wrong_key_suffix(mock_url: str) -> None:
    exchange = Exchange("POST", mock_url + "/api/v6/images/text2img", "text2img",
                        body={"key": "secret-key-not-a-valid-key", "model_id": "m", "prompt": "p"}, key="secret-key")
    assert "'\"$T2I_KEY\"'-not-a-valid-key" in exchange.curl()


def test_curl_reproducer_of_binary_bodies_uses_printf(mock_url: str) -> None:
    sent = client(mock_url).text2img_raw(b"\xff\xfe\x00{")
    command = sent.curl()
    assert command.startswith("printf '\\xff\\xfe\\x00\\x7b' | curl")
    replayed = json.loads(shell(command, "k"))
    assert replayed == sent.json and replayed["status"] == "error"


def test_curl_reproducer_of_an_empty_body_is_a_plain_curl(mock_url: str) -> None:
    sent = client(mock_url).text2img_raw(b"")
    command = sent.curl()
    assert command.startswith("curl -sS -X POST") and command.endswith("--data-raw ''"), command
    replayed = json.loads(shell(command, "k"))
    assert replayed == sent.json and replayed["status"] == "error"


def test_client_joins_a_base_url_that_already_ends_in_api() -> None:
    assert client("https://modelslab.com/api/").url_for("text2img") == "https://modelslab.com/api/v6/images/text2img"
    assert client("http://127.0.0.1:4010").url_for("fetchById", id=5) == \
        "http://127.0.0.1:4010/api/v6/images/fetch/5"


def make_report() -> Report:
    report = Report("http://h", profile="cheap", seed=42, max_examples=3)
    report.exercised("conformance", 10)
    exchange = Exchange("POST", "http://h/api/v6/images/text2img", "text2img", body={"key": "k", "samples": 2},
                        key="k", status=200, text='{"status": "success"}')
    for n in range(5):
        report.fail("sample_count", "len(output) == samples", f"{n} output item(s) for samples=2", exchange)
    report.skip("lifecycle", "the server never answered processing")
    return report.finish()


def test_report_groups_failures_by_check_with_reproducer_and_response() -> None:
    text = make_report().render_text()
    assert "  FAIL sample_count      5 failure(s) in 5 results counted" in text
    assert "  PASS conformance       10 answers judged" in text
    assert "  SKIP lifecycle         the server never answered processing" in text
    assert "  SKIP auth              no --key given, so the server is not expected to check keys" in text
    assert "  SKIP inpaint_preserves no inpaint output image decoded at the init image's size" in text
    section = text.split("== sample_count:")[1]
    assert section.count("reproduce: curl") == 3 and "... and 2 more" in section
    assert 'response: HTTP 200 {"status": "success"}' in section
    assert text.rstrip().endswith("rerun with --seed 42")


def test_junit_has_one_testcase_per_check(tmp_path: Path) -> None:
    report = make_report()
    report.write_junit(tmp_path / "j.xml")
    suite = ET.parse(tmp_path / "j.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == (str(len(CHECKS)), "1")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == set(CHECKS)
    failure = cases["sample_count"].find("failure")
    assert failure is not None and failure.text is not None and failure.text.count("[") >= 5
    assert cases["lifecycle"].find("skipped") is not None
    assert cases["conformance"].find("failure") is None and cases["conformance"].find("skipped") is None


@pytest.mark.parametrize(("overrides", "setting"), [
    ({"base_url": "localhost:4010"}, "base_url"),
    ({"profile": "huge"}, "profile"),
    ({"max_examples": 0}, "max_examples"),
    ({"skip": frozenset({"colour"})}, "skip"),
], ids=["url-without-scheme", "profile", "max-examples", "unknown-check"])
def test_settings_refuse_unusable_values(overrides: dict, setting: str) -> None:
    with pytest.raises(ConfigError, match=setting) as info:
        Settings(**({"base_url": "http://h"} | overrides))
    assert info.value.setting == setting


def test_settings_normalise_the_base_url() -> None:
    assert Settings(base_url="http://h:1/").base_url == "http://h:1"


def test_the_report_in_ci_formats_keeps_checks_times_and_failures() -> None:
    from t2i_contract.spec.reports import render

    report = make_report()
    report.timed("conformance", 1.25)
    run = report.to_run(SPEC.path, SPEC.responses.operation_pointer)
    markdown = render(run, "markdown")
    assert "| `conformance` | pass | 1.2s | 10 answers judged |" in markdown
    assert "| `sample_count` | fail |" in markdown
    assert "| `lifecycle` | skip | 0.0s | the server never answered processing |" in markdown
    assert markdown.count("| error | `sample_count` |") == 5
    annotations = render(run, "github").splitlines()
    errors = [a for a in annotations if a.startswith("::error")]
    assert len(errors) == 5 and all(a.startswith("::error file=") for a in errors)
    assert "::notice title=t2i test%3A lifecycle::SKIP: the server never answered processing" in annotations
    data = json.loads(render(run, "json"))
    assert data["checks"]["conformance"]["seconds"] == 1.25 and not data["ok"]
    assert data["checks"]["conformance"]["judged"] == "10 answers judged"
    assert data["checks"]["lifecycle"] | {"outcome": "SKIP"} == data["checks"]["lifecycle"]
    assert data["checks"]["lifecycle"]["skip_reason"] == "the server never answered processing"
    sarif = json.loads(render(run, "sarif"))["runs"][0]["results"]
    skipped = {r["ruleId"]: r for r in sarif if r.get("kind") == "notApplicable"}
    assert skipped["lifecycle"]["message"]["text"] == "SKIP: the server never answered processing"
    assert "conformance" not in skipped and "sample_count" not in skipped
    junit = ET.fromstring(render(run, "junit"))
    cases = {case.get("name"): case for case in junit.iter("testcase")}
    assert cases["lifecycle"].find("skipped").get("message") == "the server never answered processing"  # type: ignore[union-attr]
    assert cases["conformance"].find("system-out").text == "10 answers judged"  # type: ignore[union-attr]
    assert data["checks"]["sample_count"]["failures"][0]["operation"] == "text2img"


def test_the_same_failure_many_times_is_one_annotation_and_distinct_ones_stay_apart() -> None:
    from t2i_contract.spec.reports import render

    report = Report("http://h", profile="cheap", seed=42, max_examples=3)
    exchange = Exchange("POST", "http://h/api/v6/images/text2img", "text2img", body={"key": "k"}, key="k",
                        status=404, text='{"status": "error", "message": "Model not found: m"}')
    for _ in range(25):
        report.fail("valid_accepted", "a valid body gets success", "HTTP 404 Model not found: m", exchange)
    report.fail("valid_accepted", "a valid body gets success", "HTTP 500", exchange)
    run = report.finish().to_run(SPEC.path, SPEC.responses.operation_pointer)
    section = report.render_text().split("== valid_accepted:")[1]
    assert section.count("reproduce: curl") == 2 and "... and" not in section
    assert "seen:     HTTP 404 Model not found: m (×25; the first shown)" in section
    *annotations, summary = render(run, "github").splitlines()
    errors = [a for a in annotations if a.startswith("::error")]
    assert len(errors) == 2
    assert errors[0].endswith("::HTTP 404 Model not found: m (expected: a valid body gets success) (×25) "
                              "(/paths/~1api~1v6~1images~1text2img/post)")
    assert "(×" not in errors[1] and "HTTP 500" in errors[1]
    assert summary.startswith("t2i test: 0 passed, 1 failed, ") and summary.endswith("; 26 failures, 2 distinct")
    results = [r for r in json.loads(render(run, "sarif"))["runs"][0]["results"] if r["ruleId"] == "valid_accepted"]
    assert [r["properties"]["count"] for r in results] == [25, 1]
    assert "The first of 25:\nresponse: HTTP 404" in results[0]["message"]["text"]
    failure = ET.fromstring(render(run, "junit")).find(".//testcase[@name='valid_accepted']/failure")
    assert failure is not None and failure.text is not None
    assert failure.text.count("reproduce: curl") == 2 and "(×25; the first shown)" in failure.text


def test_the_text_report_counts_what_it_does_not_show_and_how_many_kinds() -> None:
    report = Report("http://h", profile="cheap", seed=42, max_examples=3)
    for seen in ["a", "b", "c", "d", "d", "e"]:
        report.fail("sample_count", "len(output) == samples", seen)
    section = report.finish().render_text().split("== sample_count:")[1]
    assert [line.split()[-1] for line in section.splitlines() if "seen:" in line] == ["a", "b", "c"]
    assert "  ... and 3 more (2 distinct)" in section
