"""The contract suite (``t2i test``, contract_tests/) passes against this backend on the tiny model.

The server runs with its default settings: it answers ``success`` when a job ends in
time, and ``processing`` when the suite asks with ``Prefer: status=processing``, so
the lifecycle check polls fetch. The suite runs as its own process, as a user runs it.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .support import KeepOpen, serve

if TYPE_CHECKING:
    from reference_backend import Generator

ROOT = Path(__file__).resolve().parents[2]


def test_t2i_test_passes_against_the_tiny_model(tiny_generator: Generator, tmp_path: Path) -> None:
    with serve(KeepOpen(tiny_generator), tmp_path, keys=("suite-key",)) as server:
        result = subprocess.run(
            [sys.executable, "-c", "from spec.cli import run; run()", "test", "--base-url", server.url,
             "--key", "suite-key", "--profile", "cheap", "--model-id", "tiny-sd", "--lora", "tiny-style",
             "--lora", "tiny-kohya", "--max-examples", "3", "--seed", "20261124", "--junit",
             str(tmp_path / "junit.xml")],
            cwd=ROOT, capture_output=True, text=True, timeout=400,
        )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    for check in ("conformance", "invalid_rejected", "valid_accepted", "lifecycle", "webhook", "auth",
                  "determinism"):
        assert f"PASS {check}" in report, check
    assert (tmp_path / "junit.xml").is_file()
