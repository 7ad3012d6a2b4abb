"""A property-based suite that checks any implementation of the text2img API from its URL.

``t2i test --base-url URL`` (see :mod:`contract_tests.cli`) and the pytest plugin
(:mod:`contract_tests.pytest_plugin`, ``pytest --t2i-base-url URL``) both run
:func:`run_suite` with a :class:`Settings` and get a :class:`Report` whose
results are keyed by the check names in :data:`CHECKS`. Request generation
lives in :mod:`contract_tests.generation` and is public: the drift tools import
it. This package imports ``spec`` and nothing else of the toolkit's.
"""
from __future__ import annotations

from .errors import ConfigError, ContractTestError, ServerUnreachable
from .generation import (
    MALFORMED_BODIES,
    draw,
    edge_bodies,
    invalid_bodies,
    invalid_edge_bodies,
    is_valid,
    minimal_body,
    valid_bodies,
)
from .report import CHECKS, Report
from .settings import Settings
from .suite import run_suite

__all__ = [
    "CHECKS",
    "MALFORMED_BODIES",
    "ConfigError",
    "ContractTestError",
    "Report",
    "ServerUnreachable",
    "Settings",
    "draw",
    "edge_bodies",
    "invalid_bodies",
    "invalid_edge_bodies",
    "is_valid",
    "minimal_body",
    "run_suite",
    "valid_bodies",
]
