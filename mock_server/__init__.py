"""A stateful mock of the hosted text-to-image API, driven by ``spec/``.

``create_app(config)`` builds the Flask app; ``t2i mock`` serves it (``cli.py``),
with gunicorn for ``--workers N`` (``serving.py``). Jobs, images and the request
journal live in one SQLite file so every worker sees the same state.
"""
from __future__ import annotations

from .app import EXTENSION, create_app
from .config import DEFAULT_PORT, MockConfig
from .errors import MockError

__all__ = ["DEFAULT_PORT", "EXTENSION", "MockConfig", "MockError", "create_app"]
