"""The backend benchmarks run and print their ratios (tiny settings: this checks the scripts, not speed)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(script: str, *args: str) -> str:
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_lora_benchmark_prints_both_ratios() -> None:
    output = run("bench_backend_lora.py", "--rounds", "1", "--requests", "2", "--steps", "1")
    for family in ("sd1", "sdxl"):
        assert re.search(rf"{family}: alternating / fixed = \d+\.\d{{3}}", output), output
        assert re.search(rf"{family}: naive load-per-request / fixed = \d+\.\d{{3}}", output), output


def test_gpu_benchmark_says_when_it_is_skipped_or_runs_on_the_tiny_model() -> None:
    import torch

    if not torch.cuda.is_available():
        assert "skipped, no CUDA device" in run("bench_backend_gpu.py")
    output = run("bench_backend_gpu.py", "--device", "cpu", "--shape", "tiny", "--size", "256", "--steps", "1",
                 "--images", "1", "--rounds", "1")
    assert re.search(r"server / bare = \d+\.\d{3}, overhead", output), output
