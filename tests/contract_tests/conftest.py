"""Fixtures: the real mock on a free port (shared), and fast suite settings for tests.

The mock app is built once per session; broken servers wrap that same app in
middleware (``broken.py``) and get their own port.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest
from flask import Flask

from contract_tests.settings import Settings
from mock_server import MockConfig, create_app
from tests.contract_tests.broken import VALID_KEY
from tests.support import ServerThread

# Small but honest: every check still runs; the broken-server table runs many times.
FAST = {"max_examples": 5, "fetch_margin": 1.5, "webhook_timeout": 3.0, "timeout": 20.0, "seed": 1234}


@pytest.fixture(scope="session")
def mock_app() -> Flask:
    return create_app(MockConfig())


@pytest.fixture(scope="session")
def keyed_mock_app() -> Flask:
    return create_app(MockConfig(keys=(VALID_KEY,)))


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
