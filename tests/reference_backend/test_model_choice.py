"""``t2i test`` without ``--model-id`` against ``t2i serve`` (issue 21, item 3): it was 25 identical "Model not
found: f222-diffusion" failures; the suite now reads ``GET /models`` first, says in its header which model it
chose, and the valid requests are accepted."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

from .support import ROOT, serve_process

if TYPE_CHECKING:
    from pathlib import Path

    from t2i_contract.reference_backend import TinyModel


def test_t2i_test_picks_the_model_t2i_serve_lists(tiny: TinyModel, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copytree(tiny.models_dir / tiny.model_id, models / tiny.model_id, copy_function=os.link)  # hard links
    with serve_process(models=str(models), data=str(tmp_path / "data")) as server:
        result = subprocess.run(
            [sys.executable, "-c", "from t2i_contract.spec.cli import run; run()", "test", "--base-url", server.url,
             "--profile", "cheap", "--max-examples", "2", "--operation", "text2img", "--checks", "valid_accepted",
             "--no-progress", "--seed", "20261206"],
            cwd=ROOT, capture_output=True, text=True, timeout=400,
        )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert result.stdout.splitlines()[1] == (f"model: {tiny.model_id} (the first of 1 model(s) the server lists at "
                                             "GET /models; --model-id picks another)"), report
    assert "PASS valid_accepted" in report and "Model not found" not in report
