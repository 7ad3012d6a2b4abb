"""Fixtures: the real mock on a free port (shared), and fast suite settings for tests.

The mock app is built once per session; broken servers wrap that same app in
middleware (``broken.py``) and get their own port.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

import pytest
from flask import Flask

from t2i_contract.contract_tests.settings import Settings
from t2i_contract.mock_server import EXTENSION, MockConfig, create_app
from tests.contract_tests.broken import VALID_KEY
from tests.support import ServerThread

# Small but honest: every check still runs; the broken-server table runs many times.
# Margins stay generous for a loaded 2-core machine; only the broken servers ever wait them out.
FAST = {"max_examples": 5, "eta": 0.2, "fetch_margin": 3.0, "webhook_timeout": 5.0, "timeout": 30.0, "seed": 1234}


@contextmanager
def mock_app_for(config: MockConfig) -> Iterator[Flask]:
    """A mock app whose store and webhook thread are closed afterwards."""
    app = create_app(config)
    try:
        yield app
    finally:
        app.extensions[EXTENSION].close()


@contextmanager
def running_mock(config: MockConfig) -> Iterator[str]:
    """A fresh mock served on a free port; yields its URL."""
    with mock_app_for(config) as app, ServerThread(app) as server:
        yield server.url


@pytest.fixture(scope="session")
def mock_app() -> Iterator[Flask]:
    with mock_app_for(MockConfig()) as app:
        yield app


@pytest.fixture(scope="session")
def keyed_mock_app() -> Iterator[Flask]:
    with mock_app_for(MockConfig(keys=(VALID_KEY,))) as app:
        yield app


@pytest.fixture(scope="session")
def mock_url(mock_app: Flask) -> Iterator[str]:
    with ServerThread(mock_app) as server:
        yield server.url


@pytest.fixture(scope="session")
def keyed_mock_url(keyed_mock_app: Flask) -> Iterator[str]:
    with ServerThread(keyed_mock_app) as server:
        yield server.url


@pytest.fixture
def fast_settings() -> Callable[..., Settings]:
    def make(base_url: str, **overrides: Any) -> Settings:
        return Settings(base_url=base_url, **(FAST | overrides))

    return make
