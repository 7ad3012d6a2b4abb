"""The code runs on every Python that ``requires-python`` admits: vermin, which reads the code for the
first version of each feature it uses (``typing.Self``, ``tomllib``, ``except*``, ...), finds none newer.

The packages, the tests, the benchmarks and the scripts are all judged; a line that uses a newer
feature behind a version check says so with vermin's ``# novm`` comment.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib  # novm: Python 3.10 reads pyproject.toml with tomli, the same parser (dev extra)
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
JUDGED = ("spec", "wire", "protocol", "mock_server", "reference_backend", "contract_tests", "drift", "t2i_contract",
          "tests", "benchmarks", "scripts", "examples")


def _minimum() -> str:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    found = re.fullmatch(r">=\s*(3\.\d+)", declared.strip())
    assert found, f"requires-python {declared!r} is not of the form >=3.N"
    return found.group(1)


def _vermin(*paths: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "import sys, vermin; sys.exit(vermin.main())", f"-t={_minimum()}-",
               "--violations", "--no-tips", "--eval-annotations", *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_the_code_needs_no_python_newer_than_requires_python() -> None:
    result = _vermin(*(ROOT / name for name in JUDGED if (ROOT / name).exists()))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_newer_feature_is_found(tmp_path: Path) -> None:
    (tmp_path / "uses_self.py").write_text("from typing import Self\n")
    result = _vermin(tmp_path)
    assert result.returncode != 0 and "typing.Self" in result.stdout, result.stdout
