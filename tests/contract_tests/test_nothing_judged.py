"""No vacuous PASS: a check that judged nothing is SKIP with the reason, in every format, and counts in its own words.

Each server below gives some checks nothing to judge (no success, images that do not
decode, no processing answer, a spec without img2img, inpaint or model_reload); those
checks must be SKIP with the reason their registration states, and each must still FAIL
on the broken server named for it in ``BREAKAGES`` (:data:`FAILS_ON`). The same holds
against a real Prism process (``prism mock spec/text2img.yaml``, an implementation
nobody here wrote), where Prism can be found: it never produces a decodable image, a
webhook or a processing answer, so no check whose subject those are may PASS.

``conformance``, ``no_server_error``, ``valid_accepted`` and ``invalid_rejected`` judge
the requests every run sends; a server that answers none of them is unreachable, which
``test_against_mock.py::test_unreachable_server_exits_2_with_a_message`` covers.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests
import yaml
from flask import Flask

from t2i_contract.contract_tests.registry import REGISTRY
from t2i_contract.contract_tests.report import Report
from t2i_contract.contract_tests.settings import Settings
from t2i_contract.contract_tests.suite import run_suite
from t2i_contract.spec import SPEC_PATH, load_spec
from t2i_contract.spec.reports import render
from tests.contract_tests.broken import BREAKAGES, Breakage, BrokenServer
from benchmarks.bench_mock import PRISM_LOCAL  # where the benchmark installs Prism
from tests.support import ServerThread, free_port, wait_for


ALWAYS_JUDGED = {"conformance", "no_server_error", "valid_accepted", "invalid_rejected"}
FAILS_ON = {check: next(b.name for b in BREAKAGES if check in b.fails) for check in REGISTRY
            if any(check in b.fails for b in BREAKAGES)}


def _refuse_generations(path: str, sent: Any, status: int, answer: Any) -> tuple[int, Any]:
    if path.endswith(("/text2img", "/img2img", "/inpaint")) and status == 200:
        return 400, {"status": "error", "message": "this server refuses every generation"}
    return status, answer


def _undecodable_outputs(path: str, sent: Any, status: int, answer: Any) -> tuple[int, Any]:
    """Every success's output items say "not an image" (as base64; fetched as a URL, it is no URL either)."""
    if isinstance(answer, dict) and answer.get("status") == "success" and isinstance(answer.get("output"), list) \
            and not path.endswith("/model_reload"):
        answer["output"] = ["data:image/png;base64,bm90IGFuIGltYWdl"] * len(answer["output"])
    return status, answer


def _422_for_invalid(path: str, sent: Any, status: int, answer: Any) -> tuple[int, Any]:
    """Every schema violation a 422 (undocumented: conformance says so), so invalid_named sees no 400."""
    return (422, answer) if status == 400 else (status, answer)


NOTHING = (
    Breakage("refuses-every-generation", frozenset({"valid_accepted"}), on_response=_refuse_generations),
    Breakage("images-that-do-not-decode", frozenset({"image_size", "img2img_size", "defaults"}),
             on_response=_undecodable_outputs),
    Breakage("ignores-prefer", frozenset(), drop_headers=("HTTP_PREFER",)),
    Breakage("422-for-invalid-bodies", frozenset({"conformance"}), on_response=_422_for_invalid),
)
SKIPS = {
    "refuses-every-generation": {"sample_count", "image_size", "meta_echo", "defaults", "determinism", "lifecycle",
                                 "webhook", "img2img_size", "inpaint_preserves", "init_image_used",
                                 "strength_matters", "auth"},
    "images-that-do-not-decode": {"determinism", "inpaint_preserves", "init_image_used", "strength_matters", "auth"},
    "ignores-prefer": {"lifecycle", "auth"},
    "422-for-invalid-bodies": {"invalid_named", "auth"},
}


def _judged(report: Report) -> dict[str, str]:
    return {name: result.outcome for name, result in report.results.items()}


def assert_skip_said_everywhere(report: Report, check: str) -> None:
    """The SKIP and its reason in text, JSON, JUnit, SARIF, GitHub and Markdown."""
    reason = report.results[check].skip_reason
    assert reason, check
    run = report.to_run(SPEC_PATH, load_spec().responses.operation_pointer)
    assert f"SKIP {check}" in render(run, "text") and reason in render(run, "text")
    data = json.loads(render(run, "json"))["checks"][check]
    assert (data["outcome"], data["skip_reason"]) == ("SKIP", reason)
    case = next(c for c in ET.fromstring(render(run, "junit")).iter("testcase") if c.get("name") == check)
    assert case.find("skipped") is not None and case.find("skipped").get("message") == reason  # type: ignore[union-attr]
    sarif = json.loads(render(run, "sarif"))["runs"][0]["results"]
    assert {"ruleId": check, "kind": "notApplicable", "level": "none"}.items() <= next(
        r for r in sarif if r["ruleId"] == check and r.get("kind") == "notApplicable").items()
    assert any(line.startswith("::notice") and f"%3A {check}::SKIP: " in line
               for line in render(run, "github").splitlines())
    assert any(line.startswith(f"| `{check}` | skip |") for line in render(run, "markdown").splitlines())


@pytest.mark.parametrize("server", NOTHING, ids=[b.name for b in NOTHING])
def test_a_check_given_nothing_to_judge_is_skip_with_its_reason(server: Breakage, mock_app: Flask,
                                                                fast_settings: Callable[..., Settings]) -> None:
    with ServerThread(BrokenServer(mock_app, server)) as running:
        report = run_suite(fast_settings(running.url, max_examples=2))
    outcomes = _judged(report)
    text = report.render_text()
    assert {name for name, outcome in outcomes.items() if outcome == "SKIP"} == SKIPS[server.name], text
    assert set(report.failed) == server.fails, text
    for check in SKIPS[server.name]:
        assert report.results[check].exercised == 0
        assert_skip_said_everywhere(report, check)
    for name, result in report.results.items():
        if result.outcome == "PASS":
            assert f"PASS {name:{max(16, *map(len, REGISTRY))}} {REGISTRY[name].counted(result.exercised)}" in text


def test_a_spec_without_image_operations_skips_their_checks(mock_url: str, tmp_path: Path,
                                                            fast_settings: Callable[..., Settings]) -> None:
    document = yaml.safe_load(SPEC_PATH.read_text())
    for path in ("/api/v6/images/img2img", "/api/v6/images/inpaint", "/api/v6/images/model_reload"):
        del document["paths"][path]
    trimmed = tmp_path / "text2img-only.yaml"
    trimmed.write_text(yaml.safe_dump(document, sort_keys=False))
    report = run_suite(fast_settings(mock_url, max_examples=2, spec_path=trimmed))
    skipped = {name for name, outcome in _judged(report).items() if outcome == "SKIP"}
    assert skipped == {"implemented", "img2img_size", "inpaint_preserves", "input_refused", "model_reload",
                       "init_image_used", "strength_matters", "auth"}, report.render_text()
    assert report.failed == []
    for check in skipped:
        assert_skip_said_everywhere(report, check)


@pytest.mark.parametrize("check", sorted({c for c, info in REGISTRY.items() if not info.pack} - ALWAYS_JUDGED))
def test_every_check_that_can_skip_also_has_a_server_that_fails_it(check: str) -> None:
    """The other half of each check's proof: ``test_broken_servers.py`` runs the named server and sees it FAIL."""
    assert check in FAILS_ON, f"no broken server in BREAKAGES fails {check}"
    skipping = [name for name, checks in SKIPS.items() if check in checks]
    assert skipping or check in {"implemented", "input_refused", "model_reload"}, f"no server makes {check} SKIP"


# -- a real Prism ------------------------------------------------------------------------
NEVER_FROM_PRISM = {"image_size", "img2img_size", "inpaint_preserves", "determinism", "defaults", "lifecycle",
                    "webhook", "init_image_used", "strength_matters"}  # decodable images, a processing lifecycle, webhooks: Prism makes none of them


def _prism() -> str | None:
    return str(PRISM_LOCAL) if PRISM_LOCAL.exists() else shutil.which("prism")


@pytest.fixture(scope="module")
def prism_url() -> Iterator[str]:
    prism = _prism()
    if prism is None:
        pytest.skip("Prism not found (npm install --prefix benchmarks/.prism @stoplight/prism-cli, or prism on PATH)")
    port = free_port()
    process = subprocess.Popen([prism, "mock", str(SPEC_PATH), "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(url), timeout=60)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        requests.post(url + "/api/v6/images/model_reload", json={}, timeout=2)
    except requests.RequestException:
        return False
    return True


def test_against_prism_no_check_passes_on_a_subject_prism_never_produces(
        prism_url: str, fast_settings: Callable[..., Settings]) -> None:
    report = run_suite(fast_settings(prism_url, max_examples=3, webhook_timeout=2.0))
    outcomes = _judged(report)
    text = report.render_text()
    assert not {name for name in NEVER_FROM_PRISM if outcomes[name] == "PASS"}, text
    assert outcomes["inpaint_preserves"] == "SKIP" and outcomes["determinism"] == "SKIP", text
    assert "no inpaint output image decoded at the init image's size" in text
    assert_skip_said_everywhere(report, "inpaint_preserves")
