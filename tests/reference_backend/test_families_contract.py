"""The contract suite (``t2i test --profile cheap``) passes against one ``t2i serve`` holding every family.

``test_contract_suite.py`` runs the suite on the SD model; here the same server
process (the tiny folder holds SD 1.5, SDXL and FLUX) is checked with the SDXL and
FLUX models and their LoRAs, as a user would run it.
"""
from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from t2i_contract.reference_backend.tiny import TINY_FAMILY_LORAS, TINY_FAMILY_MODELS

from .support import ROOT, serve_process

if TYPE_CHECKING:
    from pathlib import Path

    from t2i_contract.reference_backend import TinyModel


@pytest.mark.parametrize("family", ["sdxl", "flux"])
@pytest.mark.slow
def test_t2i_test_passes_on_each_family(tiny: TinyModel, tmp_path: Path, family: str) -> None:
    loras = [arg for lora in TINY_FAMILY_LORAS[family][:2] for arg in ("--lora", lora)]
    with serve_process(models=str(tiny.models_dir), loras=str(tiny.loras_dir), vaes=str(tiny.vaes_dir),
                       keys="suite-key", data=str(tmp_path / "data"), private_urls="allow") as server:
        result = subprocess.run(
            [sys.executable, "-c", "from t2i_contract.spec.cli import run; run()", "test", "--base-url", server.url,
             "--key", "suite-key", "--profile", "cheap", "--model-id", TINY_FAMILY_MODELS[family], *loras,
             "--max-examples", "3", "--seed", "20261124"],
            cwd=ROOT, capture_output=True, text=True, timeout=400,
        )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    for check in ("conformance", "no_server_error", "valid_accepted", "lifecycle", "webhook", "determinism",
                  "image_size", "defaults"):
        assert f"PASS {check}" in report, check
    assert server.process.returncode == 0, server.output
