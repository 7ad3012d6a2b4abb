"""The contract suite (``t2i test``, contract_tests/) passes against ``t2i serve`` on the tiny model.

Both run as their own processes, as a user runs them. The server keeps its default
settings: it answers ``success`` when a job ends in time, and ``processing`` when
the suite asks with ``Prefer: status=processing``, so the lifecycle check polls fetch.
"""
from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from .support import ROOT, serve_process

if TYPE_CHECKING:
    from pathlib import Path

    from t2i_contract.reference_backend import TinyModel


@pytest.mark.slow
def test_t2i_test_passes_against_t2i_serve_on_the_tiny_model(tiny: TinyModel, tmp_path: Path) -> None:
    with serve_process(models=str(tiny.models_dir), loras=str(tiny.loras_dir), vaes=str(tiny.vaes_dir),
                       keys="suite-key", data=str(tmp_path / "data"), private_urls="allow") as server:
        result = subprocess.run(
            [sys.executable, "-c", "from t2i_contract.spec.cli import run; run()", "test", "--base-url", server.url,
             "--key", "suite-key", "--profile", "cheap", "--model-id", "tiny-sd", "--lora", "tiny-style",
             "--lora", "tiny-kohya", "--max-examples", "3", "--seed", "20261124", "--junit",
             str(tmp_path / "junit.xml")],
            cwd=ROOT, capture_output=True, text=True, timeout=400,
        )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    for check in ("conformance", "no_server_error", "invalid_rejected", "valid_accepted", "lifecycle", "webhook",
                  "auth", "determinism", "defaults"):
        assert f"PASS {check}" in report, check
    assert (tmp_path / "junit.xml").is_file()
    assert server.process.returncode == 0, server.output
