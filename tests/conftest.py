"""Shared pytest set-up: hypothesis profiles and the repository's paths.

Profiles: ``dev`` (default, fast, random: it keeps exploring on every run) and
``ci`` (thorough and derandomised, so CI's verdict on a commit is reproducible;
chosen when CI=true). Select one explicitly with HYPOTHESIS_PROFILE=<name>.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "ci", max_examples=200, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def upstream_example() -> dict:
    import json

    return json.loads((ROOT / "examples" / "upstream-example.json").read_text())
