"""The command line of a mature tester, end to end: --checks, --operation, --max-failures, --rate-limit, --record
(HAR) and progress on stderr (a live line on a terminal, a line per step otherwise)."""
from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from t2i_contract.contract_tests.cli import command
from t2i_contract.contract_tests.errors import ConfigError
from t2i_contract.contract_tests.progress import Progress
from t2i_contract.contract_tests.settings import Settings, parse_rate
from tests.contract_tests.broken import BREAKAGES, BrokenServer
from tests.support import ServerThread

FAST = ["--max-examples", "1", "--seed", "3", "--webhook-timeout", "5", "--fetch-margin", "3"]


def _outcomes(stdout: str) -> dict[str, str]:
    return {line.split()[1]: line.split()[0] for line in stdout.splitlines()
            if line.startswith("  ") and line.split()[0] in ("PASS", "FAIL", "SKIP")}


def test_checks_operation_and_record_choose_and_keep_what_is_sent(mock_url: str, tmp_path: Path) -> None:
    har = tmp_path / "run.har"
    result = CliRunner().invoke(command, ["--base-url", mock_url, *FAST, "--checks", "webhook,determinism",
                                          "--operation", "img2img", "--record", str(har), "--key", "sekrit-key"])
    assert result.exit_code == 0, result.output
    outcomes = _outcomes(result.stdout)
    assert outcomes["webhook"] == outcomes["determinism"] == "PASS"
    assert {name for name, outcome in outcomes.items() if outcome != "SKIP"} == {"webhook", "determinism"}
    assert "SKIP auth              not among --checks" in result.stdout
    assert "operations tested (--operation): img2img" in result.stdout
    entries = json.loads(har.read_text())["log"]["entries"]
    posts = [e for e in entries if e["request"]["method"] == "POST"]
    routes = {e["request"]["url"].split("/api/v6/images/")[1].split("/")[0] for e in posts}
    assert routes == {"img2img", "fetch"}  # fetch: following the webhook probe's processing img2img job
    assert any(e["request"]["method"] == "GET" and e["response"]["content"].get("encoding") == "base64"
               and e["response"]["status"] == 200 for e in entries)  # the images downloaded and measured
    assert "sekrit-key" not in har.read_text() and '"key": "$T2I_KEY"' in posts[0]["request"]["postData"]["text"]
    assert all({"startedDateTime", "time", "request", "response", "cache", "timings"} <= set(e) for e in entries)


def test_max_failures_stops_the_run_where_it_is(mock_app: Flask) -> None:
    breakage = next(b for b in BREAKAGES if b.name == "meta-without-prompt")
    with ServerThread(BrokenServer(mock_app, breakage)) as server:
        result = CliRunner().invoke(command, ["--base-url", server.url, *FAST, "--max-failures", "1"])
    assert result.exit_code == 1, result.output
    assert "note: stopped after 1 failure(s) (--max-failures 1): later requests were not sent" in result.stdout
    assert "1 failure(s) in" in result.stdout and "... and" not in result.stdout


def test_rate_limit_spaces_the_requests(mock_url: str, tmp_path: Path) -> None:
    har = tmp_path / "paced.har"
    result = CliRunner().invoke(command, ["--base-url", mock_url, *FAST, "--checks", "determinism",
                                          "--operation", "text2img", "--rate-limit", "20/s", "--record", str(har)])
    assert result.exit_code == 0, result.output
    starts = sorted(datetime.fromisoformat(e["startedDateTime"].replace("Z", "+00:00"))
                    for e in json.loads(har.read_text())["log"]["entries"])
    assert len(starts) >= 6
    # requests are spaced 1/20 s apart at least (a lower bound: a loaded machine only spaces them more)
    assert (starts[-1] - starts[0]).total_seconds() >= (len(starts) - 1) / 20 - 0.02


@pytest.mark.parametrize(("text", "rate"), [("2/s", 2.0), ("30/m", 0.5), ("0.5", 0.5), ("4/second", 4.0)])
def test_rate_limit_reads_per_second_and_per_minute(text: str, rate: float) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["fast", "0/s", "2/h", "-1/s"])
def test_an_unusable_rate_limit_names_the_option(text: str) -> None:
    with pytest.raises(ConfigError, match="rate_limit"):
        parse_rate(text)


def test_an_unknown_operation_or_check_exits_2_naming_it(mock_url: str) -> None:
    result = CliRunner().invoke(command, ["--base-url", mock_url, "--operation", "upscale"])
    assert result.exit_code == 2 and "operations must be among the spec's operations" in result.output
    assert "'upscale'" in result.output and "model_reload" in result.output
    result = CliRunner().invoke(command, ["--base-url", mock_url, "--checks", "webhook,colour"])
    assert result.exit_code == 2 and "checks must be check names" in result.output and "colour" in result.output


def test_progress_is_a_line_per_step_in_a_log(mock_url: str) -> None:
    result = CliRunner().invoke(command, ["--base-url", mock_url, *FAST, "--checks", "lifecycle",
                                          "--operation", "text2img"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("t2i test: [")]
    assert any(line.endswith("lifecycle: a request that asks for a processing answer") for line in lines), lines
    assert "\r" not in result.stderr
    quiet = CliRunner().invoke(command, ["--base-url", mock_url, *FAST, "--checks", "lifecycle",
                                         "--operation", "text2img", "--no-progress"])
    assert quiet.exit_code == 0 and "t2i test: [" not in quiet.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_rewrites_one_line_at_most_ten_times_a_second() -> None:
    now = [0.0]
    stream = _Terminal()
    progress = Progress("t2i test", stream, clock=lambda: now[0])
    assert progress.live
    progress.step("determinism: one seed twice")
    for _ in range(5):
        progress.tick(3, 0)  # the same instant: not redrawn
    now[0] = 0.5
    progress.tick(7, 1)
    progress.done()
    drawn = stream.getvalue().split("\r\x1b[K")
    assert drawn[1] == "t2i test [  0.0s] determinism: one seed twice - 0 requests, 0 failure(s)"
    assert drawn[2] == "t2i test [  0.5s] determinism: one seed twice - 7 requests, 1 failure(s)"
    assert drawn[3:] == [""] and "\n" not in stream.getvalue()


def test_settings_keep_the_chosen_checks_and_say_why_others_are_left_out() -> None:
    settings = Settings(base_url="http://h", checks=frozenset({"webhook"}), skip=frozenset({"auth"}))
    assert settings.runs("webhook") and not settings.runs("determinism")
    assert settings.left_out("determinism") == "not among --checks"
    assert settings.left_out("auth") == "skipped on request (--skip)"
