"""The contract suite (``t2i test --profile cheap``) passes against an API process of the distributed mode.

One ``t2i serve --queue`` process, two ``t2i worker`` processes and a Redis server, all
real; the suite talks only to the API process, as a client of a scaled-out deployment would.
"""
from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

import pytest

from .cluster import T2I, cluster

if TYPE_CHECKING:
    from pathlib import Path

    from t2i_contract.reference_backend import TinyModel

from tests.reference_backend.support import ROOT


@pytest.mark.slow
def test_t2i_test_passes_against_an_api_process_in_distributed_mode(tiny: TinyModel, tmp_path: Path) -> None:
    with cluster(tiny, tmp_path) as running:
        for name in ("w1", "w2"):
            running.worker(name, vaes=str(tiny.vaes_dir))
        api = running.api(keys="suite-key")
        result = subprocess.run(
            T2I + ["test", "--base-url", api.url, "--key", "suite-key", "--profile", "cheap", "--model-id", "tiny-sd",
                   "--lora", "tiny-style", "--lora", "tiny-kohya", "--max-examples", "3", "--seed", "20261124"],
            cwd=ROOT, capture_output=True, text=True, timeout=400,
        )
        report = result.stdout + result.stderr
        assert result.returncode == 0, report + api.output()
        for check in ("conformance", "no_server_error", "invalid_rejected", "valid_accepted", "lifecycle", "webhook",
                      "auth", "determinism", "defaults"):
            assert f"PASS {check}" in report, check
        assert "Traceback" not in api.output(), api.output()
