"""Proof that the suite can fail: each deliberately broken server fails on the check named for it."""
from __future__ import annotations

from typing import Callable

import pytest
import requests
from flask import Flask

from t2i_contract.contract_tests.settings import Settings
from t2i_contract.contract_tests.suite import run_suite
from tests.contract_tests.broken import BREAKAGES, SAMPLER_KEPT, VALID_KEY, Breakage, BrokenServer, refuse_samplers
from t2i_contract.mock_server import MockConfig
from tests.contract_tests.conftest import mock_app_for
from tests.support import ServerThread


@pytest.mark.parametrize("breakage", BREAKAGES, ids=[b.name for b in BREAKAGES])
@pytest.mark.slow
def test_broken_server_fails_on_its_check(breakage: Breakage, mock_app: Flask, keyed_mock_app: Flask,
                                          fast_settings: Callable[..., Settings]) -> None:
    app = keyed_mock_app if breakage.needs_key else mock_app
    with ServerThread(BrokenServer(app, breakage)) as server:
        settings = fast_settings(server.url, key=VALID_KEY if breakage.needs_key else None)
        report = run_suite(settings)
    text = report.render_text()
    assert set(report.failed) == breakage.fails, text
    for check in breakage.fails:
        assert f"== {check}:" in text
        assert "reproduce: curl" in text


def test_a_sampler_refused_for_the_model_by_name_passes_and_is_noted(
        mock_app: Flask, fast_settings: Callable[..., Settings]) -> None:
    """The spec lets a server refuse a model-dependent value (x-t2i-model-dependent) with a 400 naming it; the
    same refusal naming another field fails (``sampler-refused-naming-another-field`` in BREAKAGES)."""
    refusing = Breakage("refuses-samplers-for-the-model", frozenset(), on_response=refuse_samplers("scheduler"))
    with ServerThread(BrokenServer(mock_app, refusing)) as server:
        report = run_suite(fast_settings(server.url))
    assert report.failed == [], report.render_text()
    note = next(note for note in report.notes if note.startswith("valid bodies refused for model"))
    refused = note.split("(x-t2i-model-dependent): ", 1)[1].split(", ")
    assert refused and all(item.startswith("scheduler=") for item in refused)
    assert f"scheduler={SAMPLER_KEPT}" not in refused


def test_lifecycle_failure_names_the_request_that_started_the_generation(
        mock_app: Flask, fast_settings: Callable[..., Settings]) -> None:
    breakage = next(b for b in BREAKAGES if b.name == "processing-forever")
    with ServerThread(BrokenServer(mock_app, breakage)) as server:
        report = run_suite(fast_settings(server.url, max_examples=1))
    failure = report.results["lifecycle"].failures[0]
    assert "still processing after eta 0.2s + 3s margin" in failure.seen  # FAST's eta and margin
    assert "/api/v6/images/fetch" in failure.reproducer
    assert "the generation was started by: curl" in failure.context
    assert "-H 'Prefer: status=processing, eta=0.2'" in failure.context


def test_a_server_that_is_always_busy_fails_valid_accepted(
        mock_app: Flask, fast_settings: Callable[..., Settings]) -> None:
    def always_busy(path: str, sent: object, status: int, answer: dict) -> tuple[int, dict]:
        if path.endswith(("/text2img", "/img2img", "/inpaint")) and status == 200:
            return 429, {"status": "error", "message": "Rate limit exceeded.", "retry_after": 0}
        return status, answer

    busy = Breakage("always-busy", frozenset({"valid_accepted"}), on_response=always_busy)
    with ServerThread(BrokenServer(mock_app, busy)) as server:
        report = run_suite(fast_settings(server.url, max_examples=1, retries=1))
    assert report.failed == ["valid_accepted"], report.render_text()
    assert "none of the" in report.results["valid_accepted"].failures[0].seen


def test_minimising_a_cheap_failure_never_sends_a_costlier_request(fast_settings: Callable[..., Settings]) -> None:
    breakage = next(b for b in BREAKAGES if b.name == "one-sample-short")
    with mock_app_for(MockConfig()) as app, ServerThread(BrokenServer(app, breakage)) as server:
        report = run_suite(fast_settings(server.url, profile="cheap", max_examples=8))
        journal = requests.get(server.url + "/__mock/requests", timeout=10).json()["requests"]
    assert report.failed == ["sample_count"]
    reproducer = report.results["sample_count"].failures[0].reproducer
    assert '"width":256' in reproducer and '"samples":2' in reproducer
    sizes = [(e["normalised"]["width"], e["normalised"]["height"]) for e in journal
             if e["path"].endswith("/text2img") and e["status"] == 200]
    assert sizes.count((512, 512)) == 1  # only the defaults check's minimal body
    assert set(sizes) == {(256, 256), (512, 512)}


@pytest.mark.parametrize(("name", "says"), [
    ("webhook-at-once-before-images", "the webhook came before its images could be downloaded"),
    ("no-webhook-for-img2img-and-inpaint", "the spec: the webhook receives the result once the generation ends"),
    ("400-names-no-field", "but neither errors[].field nor the message names"),
    ("img2img-ignores-init-image", "init images A and B gave identical pixels"),
    ("img2img-ignores-strength", "gave the same pixels (the spec: strength is how far"),
    ("img2img-seed-ignored", "img2img, seed"),
], ids=["webhook-early", "webhook-missing", "unnamed-field", "init-ignored", "strength-ignored", "seed-ignored"])
def test_each_new_promise_fails_with_the_reading_it_relies_on(name: str, says: str, mock_app: Flask,
                                                              fast_settings: Callable[..., Settings]) -> None:
    breakage = next(b for b in BREAKAGES if b.name == name)
    with ServerThread(BrokenServer(mock_app, breakage)) as server:
        report = run_suite(fast_settings(server.url, max_examples=1))
    (check,) = breakage.fails
    seen = [failure.seen for failure in report.results[check].failures]
    assert any(says in text for text in seen), seen
    if name == "no-webhook-for-img2img-and-inpaint":
        assert {f.operation for f in report.results[check].failures} == {"img2img", "inpaint"}
