"""A property-based suite that checks any implementation of the text2img API from its URL.

``t2i test --base-url URL`` (see :mod:`contract_tests.cli`) and the pytest plugin
(:mod:`contract_tests.pytest_plugin`, ``pytest --t2i-base-url URL``) both run
:func:`run_suite`. Request generation lives in :mod:`contract_tests.generation`
and is public: the drift tools import it. This package imports ``spec`` and
nothing else of the toolkit's.
"""
from __future__ import annotations

from .generation import draw, edge_bodies, invalid_bodies, is_valid, minimal_body, valid_bodies

__all__ = [
    "draw",
    "edge_bodies",
    "invalid_bodies",
    "is_valid",
    "minimal_body",
    "valid_bodies",
]
