"""The pytest plugin, run in real pytest processes: inert by default, one item per check with a URL."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from t2i_contract.contract_tests.report import CHECKS
from tests.contract_tests.broken import BREAKAGES, BrokenServer
from tests.support import ServerThread

FAST = ["--t2i-max-examples", "3", "--t2i-seed", "2", "--t2i-webhook-timeout", "3", "--t2i-fetch-margin", "2"]


def run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-W", "error", *args],
                          cwd=folder, capture_output=True, text=True, timeout=180)


def test_plugin_is_inert_without_a_base_url(tmp_path: Path) -> None:
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert True\n")
    done = run_pytest(tmp_path, "-q", "--strict-markers")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout and "t2i_contract" not in done.stdout
    assert "--t2i-base-url" in run_pytest(tmp_path, "--help").stdout


def test_plugin_options_are_t2i_tests_options_but_its_output_ones(tmp_path: Path) -> None:
    """The plugin and ``t2i test`` are made from the same Settings; only the report options (--format,
    --output, --junit, --path-prefix), -v and progress are the CLI's own (pytest has --junitxml, -v, its own report plugins
    and its own progress)."""
    from t2i_contract.contract_tests.cli import command
    from t2i_contract.contract_tests.settings import CliOutput

    listed = run_pytest(tmp_path, "--help").stdout
    plugin = {line.split()[0].split("=")[0].removeprefix("--t2i-") for line in listed.splitlines()
              if line.lstrip().startswith("--t2i-")}
    cli_only = {f.name for f in dataclasses.fields(CliOutput)}
    cli = {p.opts[-1].removeprefix("--") for p in command.params if p.name not in cli_only}
    assert plugin == cli and len(cli) >= 14
    assert {"format", "output", "junit", "path_prefix", "verbose", "progress"} == cli_only


def test_plugin_refuses_a_bad_value_as_t2i_test_does(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "--t2i-base-url", "http://127.0.0.1:9", "--t2i-max-examples", "0")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "Invalid value for '--t2i-max-examples': 0 is not in the range x>=1" in done.stderr


@pytest.mark.slow
def test_plugin_adds_one_passing_item_per_check_against_the_mock(mock_url: str, tmp_path: Path) -> None:
    # --t2i-key "" is no key, as when $T2I_KEY is unset in the README's command: auth is skipped, not failed
    done = run_pytest(tmp_path, "-v", "--t2i-base-url", mock_url, *FAST, "--t2i-key", "",
                      "--junitxml", str(tmp_path / "j.xml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "t2i_contract[conformance] PASSED" in done.stdout
    assert "t2i_contract[auth] SKIPPED" in done.stdout
    assert f"{len(CHECKS) - 1} passed, 1 skipped" in done.stdout
    assert 'name="t2i_contract[webhook]"' in (tmp_path / "j.xml").read_text()


def test_plugin_fails_the_item_of_the_broken_check(mock_app: Flask, tmp_path: Path) -> None:
    breakage = next(b for b in BREAKAGES if b.name == "meta-without-prompt")
    with ServerThread(BrokenServer(mock_app, breakage)) as server:
        done = run_pytest(tmp_path, "-v", "--t2i-base-url", server.url, *FAST)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "t2i_contract[meta_echo] FAILED" in done.stdout
    assert "meta lacks prompt" in done.stdout and "reproduce: curl" in done.stdout
    assert f"1 failed, {len(CHECKS) - 2} passed, 1 skipped" in done.stdout


@pytest.mark.slow
def test_plugin_items_can_be_selected_by_marker_and_keyword(mock_url: str, tmp_path: Path) -> None:
    (tmp_path / "test_other.py").write_text("def test_other():\n    assert True\n")
    done = run_pytest(tmp_path, "-v", "--t2i-base-url", mock_url, *FAST, "-m", "t2i_contract", "-k", "defaults")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "t2i_contract[defaults] PASSED" in done.stdout and "test_other" not in done.stdout
