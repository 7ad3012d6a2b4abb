"""A property-based suite that checks any implementation of the text2img API from its URL.

``t2i test --base-url URL`` (see :mod:`contract_tests.cli`) and the pytest plugin
(:mod:`contract_tests.pytest_plugin`, ``pytest --t2i-base-url URL``) both run
:func:`run_suite` with a :class:`Settings` and get a :class:`Report` whose
results are keyed by the check names in :data:`CHECKS`. A user adds a check of
their own with :func:`check` (a decorator; its function returns problems or a
:class:`Verdict` and judges every answer or every :class:`Result`) or through the
``t2i.checks`` entry-point group (:mod:`contract_tests.registry`). Request generation
(:mod:`contract_tests.generation`), the client (:class:`Client`), polling
(:func:`follow`), image loading (:func:`load_outputs`) and the single-answer
verdicts (:mod:`contract_tests.checks`) are public: ``t2i drift`` runs on them.
This package imports ``spec`` and nothing else of the toolkit's.
"""
from __future__ import annotations

from . import checks
from .client import NO_JSON, Client, Exchange
from .errors import ConfigError, ContractTestError, ServerUnreachable
from .generation import (
    DEFAULT_KEY,
    MALFORMED_BODIES,
    draw,
    edge_bodies,
    invalid_bodies,
    invalid_edge_bodies,
    is_valid,
    minimal_body,
    valid_bodies,
)
from .images import LoadedImage, load_outputs
from .polling import Polled, follow
from .registry import Result, Verdict, check
from .report import CHECKS, Report
from .settings import DEFAULT_MAX_RETRY_WAIT, DEFAULT_RETRIES, Settings
from .suite import run_suite

__all__ = [
    "CHECKS",
    "DEFAULT_KEY",
    "DEFAULT_MAX_RETRY_WAIT",
    "DEFAULT_RETRIES",
    "MALFORMED_BODIES",
    "NO_JSON",
    "Client",
    "ConfigError",
    "ContractTestError",
    "Exchange",
    "LoadedImage",
    "Polled",
    "Report",
    "Result",
    "ServerUnreachable",
    "Settings",
    "Verdict",
    "check",
    "checks",
    "draw",
    "edge_bodies",
    "follow",
    "invalid_bodies",
    "invalid_edge_bodies",
    "is_valid",
    "load_outputs",
    "minimal_body",
    "run_suite",
    "valid_bodies",
]
