"""The suite against the real mock over HTTP: it passes, through the API, the CLI and a real process."""
from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Callable

import pytest
import requests
from click.testing import CliRunner
from flask import Flask

from t2i_contract.contract_tests.cli import command
from t2i_contract.contract_tests.report import CHECKS
from t2i_contract.contract_tests.settings import Settings
from t2i_contract.contract_tests.suite import run_suite
from t2i_contract.mock_server import MockConfig
from tests.contract_tests.broken import BREAKAGES, VALID_KEY, BrokenServer
from tests.contract_tests.conftest import running_mock
from tests.support import ServerThread, free_port, wait_for

T2I = Path(sys.executable).with_name("t2i")


def test_suite_passes_against_the_mock_with_every_check_exercised(
        mock_url: str, fast_settings: Callable[..., Settings]) -> None:
    report = run_suite(fast_settings(mock_url))
    assert report.ok, report.render_text()
    outcomes = {name: result.outcome for name, result in report.results.items()}
    assert outcomes == {name: "SKIP" if name == "auth" else "PASS" for name in CHECKS}
    assert report.results["conformance"].exercised > 50


def test_auth_passes_against_a_mock_that_checks_keys(
        keyed_mock_url: str, fast_settings: Callable[..., Settings]) -> None:
    report = run_suite(fast_settings(keyed_mock_url, key=VALID_KEY))
    assert report.ok, report.render_text()
    assert report.results["auth"].outcome == "PASS"
    # a wrong and a missing key on text2img, img2img, inpaint and model_reload, a wrong key on both fetches
    assert report.results["auth"].exercised == 10


def test_wrong_key_for_the_whole_run_fails_valid_accepted(
        keyed_mock_url: str, fast_settings: Callable[..., Settings]) -> None:
    report = run_suite(fast_settings(keyed_mock_url, key="not-the-key", max_examples=1))
    assert "valid_accepted" in report.failed


def test_cheap_profile_keeps_what_the_server_generates_small(fast_settings: Callable[..., Settings]) -> None:
    with running_mock(MockConfig()) as url:
        report = run_suite(fast_settings(url, profile="cheap", max_examples=10))
        journal = requests.get(url + "/__mock/requests", timeout=10).json()["requests"]
    assert report.ok, report.render_text()
    generated = [e["normalised"] for e in journal
                 if e["path"].endswith("/text2img") and e["status"] == 200 and e.get("normalised")]
    assert len(generated) >= 10
    # (a schemathesis body may carry the spec example's prompt, which the minimal body shares: tell it by size)
    minimal = [n for n in generated if n["prompt"] == "a lighthouse on a cliff at dawn" and n["width"] == 512]
    assert len(minimal) == 1  # the defaults check needs 512x512; everything else is small
    for normalised in generated:
        if normalised is not minimal[0]:
            assert (normalised["width"], normalised["height"]) == (256, 256)
            assert normalised["samples"] <= 2 and normalised["num_inference_steps"] <= 3
            assert not normalised["upscale"]


def test_processing_answers_are_followed_through_fetch(fast_settings: Callable[..., Settings]) -> None:
    with running_mock(MockConfig(processing_ratio=1.0, eta=0.3)) as url:
        report = run_suite(fast_settings(url, max_examples=3))
    assert report.ok, report.render_text()
    assert report.results["lifecycle"].exercised >= 8
    assert report.results["sample_count"].exercised >= 6


def test_cli_passes_with_exit_0_and_writes_junit(mock_url: str, tmp_path: Path) -> None:
    junit = tmp_path / "contract.xml"
    result = CliRunner().invoke(command, ["--base-url", mock_url, "--seed", "5", "--junit", str(junit),
                                          "--webhook-timeout", "5"])  # otherwise the defaults: 20 examples, full
    assert result.exit_code == 0, result.output
    assert f"{len(CHECKS) - 1} passed, 0 failed, 1 skipped" in result.output  # auth skipped: no key
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    assert sorted(case.get("name") for case in suite.iter("testcase")) == sorted(CHECKS)
    assert [case.get("name") for case in suite.iter("testcase") if case.find("skipped") is not None] == ["auth"]


def test_cli_fails_with_exit_1_and_junit_names_the_check(mock_app: Flask, tmp_path: Path) -> None:
    breakage = next(b for b in BREAKAGES if b.name == "one-sample-short")
    junit = tmp_path / "contract.xml"
    with ServerThread(BrokenServer(mock_app, breakage)) as server:
        result = CliRunner().invoke(command, ["--base-url", server.url, "--max-examples", "3", "--seed", "1",
                                              "--junit", str(junit), "--webhook-timeout", "3", "--eta", "0.2"])
    assert result.exit_code == 1, result.output
    assert "FAIL sample_count" in result.output and "rerun with --seed 1" in result.output
    failed = [case.get("name") for case in ET.parse(junit).getroot().iter("testcase")
              if case.find("failure") is not None]
    assert failed == ["sample_count"]


def test_unreachable_server_exits_2_with_a_message() -> None:
    result = CliRunner().invoke(command, ["--base-url", f"http://127.0.0.1:{free_port()}", "--timeout", "2"])
    assert result.exit_code == 2
    assert "no server answers at" in result.output


def test_bad_options_are_usage_errors() -> None:
    result = CliRunner().invoke(command, ["--base-url", "ftp://example.org"])
    assert result.exit_code == 2 and "base_url must be an http(s) URL" in result.output
    result = CliRunner().invoke(command, ["--base-url", "http://x", "--profile", "huge"])
    assert result.exit_code == 2


def test_options_read_t2i_test_environment_variables(mock_url: str) -> None:
    help_text = CliRunner().invoke(command, ["--help"], auto_envvar_prefix="T2I_TEST").output
    assert "T2I_TEST_BASE_URL" in help_text and "T2I_TEST_PROFILE" in help_text and "T2I_TEST_LORA]" in help_text


def test_skipped_checks_are_not_run_and_verbose_says_what_is_sent(mock_url: str) -> None:
    newest = requests.get(mock_url + "/__mock/requests?limit=1", timeout=10).json()["requests"]
    since = newest[-1]["seq"] if newest else 0
    result = CliRunner().invoke(command, ["--base-url", mock_url, "--max-examples", "2", "-v",
                                          "--skip", "webhook", "--skip", "lifecycle"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[1]: line for line in result.stdout.splitlines() if line.startswith("  ")}
    assert lines["webhook"].split()[0] == "SKIP" and lines["webhook"].endswith("skipped on request (--skip)")
    assert "determinism: one seed twice, then another seed" in result.stderr
    assert "webhook:" not in result.stderr and "lifecycle:" not in result.stderr
    sent = requests.get(f"{mock_url}/__mock/requests?since={since}", timeout=10).json()["requests"]
    assert sent, "the run sent nothing the mock recorded"
    probes = [entry["path"] for entry in sent if "lifecycle probe" in entry.get("raw", "")
              or "webhook probe" in entry.get("raw", "")]
    assert probes == [], "a skipped check's probe was sent anyway"


@pytest.mark.slow
def test_t2i_test_passes_against_a_running_t2i_mock(tmp_path: Path) -> None:
    """The issue's first "done when", literally: two real processes, the mock with keys and processing."""
    port = free_port()
    mock = subprocess.Popen([str(T2I), "mock", "--port", str(port), "--keys", "ci-key", "--processing-ratio", "0.3",
                             "--eta", "0.5"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(url + "/__mock/health"), timeout=30)
        env = os.environ | {"T2I_TEST_MAX_EXAMPLES": "5", "T2I_TEST_SEED": "9", "T2I_KEY": "ci-key",
                            "T2I_TEST_ETA": "0.2"}
        done = subprocess.run([str(T2I), "test", "--base-url", url, "--key", "ci-key", "--junit",
                               str(tmp_path / "j.xml")], capture_output=True, text=True, timeout=120, env=env)
    finally:
        mock.terminate()
        mock.wait(timeout=10)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(profile full, seed 9, 5 examples)" in done.stdout
    assert f"{len(CHECKS)} passed, 0 failed, 0 skipped" in done.stdout
    assert "/hook/" not in done.stderr  # the webhook receiver keeps no access log on the terminal


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def test_loras_from_the_environment_are_the_only_ones_requested() -> None:
    with running_mock(MockConfig()) as url:
        result = CliRunner().invoke(command, ["--base-url", url, "--max-examples", "15", "--seed", "3",
                                              "--skip", "webhook"],
                                    env={"T2I_TEST_LORA": "lora-a lora-b"}, auto_envvar_prefix="T2I_TEST")
        journal = requests.get(url + "/__mock/requests", timeout=10).json()["requests"]
    assert result.exit_code == 0, result.output
    used = {lora for e in journal if e["path"].endswith("/text2img") and e["status"] == 200
            for lora in e["normalised"]["lora_model"]}
    assert used == {"lora-a", "lora-b"}
