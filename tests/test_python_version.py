"""The code runs on every Python that ``requires-python`` admits: vermin, which reads the code for the
first version of each feature it uses (``typing.Self``, ``tomllib``, ``except*``, ...), finds none newer.

Only the installed packages are judged: the test suite is dev tooling and may use newer features.
"""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _minimum() -> str:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    found = re.fullmatch(r">=\s*(3\.\d+)", declared.strip())
    assert found, f"requires-python {declared!r} is not of the form >=3.N"
    return found.group(1)


def _vermin(*paths: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "import sys, vermin; sys.exit(vermin.main())", f"-t={_minimum()}-",
               "--violations", "--no-tips", "--eval-annotations", *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_the_packages_need_no_python_newer_than_requires_python() -> None:
    packages = [ROOT / p for p in ("spec", "wire", "protocol", "mock_server", "reference_backend", "contract_tests",
                                   "drift", "t2i_contract")]
    result = _vermin(*packages)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_newer_feature_is_found(tmp_path: Path) -> None:
    (tmp_path / "uses_self.py").write_text("from typing import Self\n")
    result = _vermin(tmp_path)
    assert result.returncode != 0 and "typing.Self" in result.stdout, result.stdout
