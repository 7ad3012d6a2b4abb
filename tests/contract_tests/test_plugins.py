"""A user's own check: registered with the decorator or through the ``t2i.checks`` entry-point group, judged by the
engine on every answer or result, and reported like the built-in checks (PASS with its count, FAIL on a broken
server)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest
from flask import Flask

from t2i_contract.contract_tests import Result, Verdict, check
from t2i_contract.contract_tests.registry import REGISTRY, load_plugins, unregister
from t2i_contract.contract_tests.settings import Settings
from t2i_contract.contract_tests.suite import run_suite
from tests.contract_tests.broken import BREAKAGES, BrokenServer
from tests.support import ServerThread


@pytest.fixture
def prompt_check() -> Iterator[str]:
    @check("prompt_in_meta", "meta.prompt is the prompt sent (a user's own reading)", kind="result",
           unit="results read", nothing="no success result came")
    def prompt_in_meta(result: Result) -> Verdict:
        meta = result.payload.get("meta")
        sent = result.body.get("prompt")
        if not isinstance(meta, dict) or not isinstance(sent, str):
            return Verdict([], 0)
        return Verdict([] if meta.get("prompt") == sent else [f"meta.prompt is {meta.get('prompt')!r}, sent {sent!r}"])

    yield "prompt_in_meta"
    unregister("prompt_in_meta")


@pytest.mark.slow
def test_a_decorated_check_is_judged_on_every_result_and_can_fail(
        prompt_check: str, mock_app: Flask, fast_settings: Callable[..., Settings]) -> None:
    with ServerThread(mock_app) as server:
        passing = run_suite(fast_settings(server.url, max_examples=2))
    result = passing.results[prompt_check]
    assert result.outcome == "PASS" and result.exercised >= 5, passing.render_text()
    assert f"PASS {prompt_check}" in passing.render_text() and "results read" in passing.render_text()
    breakage = next(b for b in BREAKAGES if b.name == "meta-without-prompt")
    with ServerThread(BrokenServer(mock_app, breakage)) as server:
        failing = run_suite(fast_settings(server.url, max_examples=2))
    assert set(failing.failed) == {"meta_echo", prompt_check}, failing.render_text()
    assert "meta.prompt is None, sent" in failing.render_text()


def test_a_check_id_cannot_be_registered_twice_with_another_meaning(prompt_check: str) -> None:
    with pytest.raises(ValueError, match="already registered"):
        check(prompt_check, "something else", kind="result")(lambda result: [])


PLUGIN = '''
from t2i_contract.contract_tests import Verdict, check


@check("json_answers", "every answer is JSON (a plugin's reading)", kind="answer", unit="answers read")
def json_answers(spec, exchange):
    if not exchange.answered:
        return Verdict([], 0)
    return [] if "json" in exchange.content_type else [f"answered {exchange.content_type!r}"]
'''


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A distribution on sys.path whose entry point in ``t2i.checks`` names its module, as pip would install it."""
    (tmp_path / "my_t2i_checks.py").write_text(PLUGIN)
    info = tmp_path / "my_t2i_checks-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-t2i-checks\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[t2i.checks]\njson = my_t2i_checks\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "json_answers"
    unregister("json_answers")
    sys.modules.pop("my_t2i_checks", None)


def test_an_entry_point_check_is_loaded_and_judges_every_answer(
        installed_plugin: str, mock_url: str, fast_settings: Callable[..., Settings]) -> None:
    assert installed_plugin not in REGISTRY
    assert "json" in load_plugins() and REGISTRY[installed_plugin].kind == "answer"
    report = run_suite(fast_settings(mock_url, max_examples=1))
    result = report.results[installed_plugin]
    assert result.outcome == "PASS" and result.exercised == report.results["no_server_error"].exercised
    assert f"{result.exercised} answers read" in report.render_text()
