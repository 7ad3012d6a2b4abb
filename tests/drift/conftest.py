"""Fixtures for the drift tests: the real mock server, and a factory for drifting ones."""
from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest
from flask import Flask

from t2i_contract.mock_server import EXTENSION, MockConfig, create_app
from tests.support import ServerThread

from .fakes import Drifting

# Half the generations answer "processing" first, ready after 0.05 s, so drift follows both fetch forms.
MOCK_CONFIG = MockConfig(processing_ratio=0.5, eta=0.05)


def _close(app: Flask) -> None:
    """Release the mock's store and webhook sender (its SQLite file and lock file)."""
    app.extensions[EXTENSION].close()


@pytest.fixture(scope="session")
def mock_url() -> Iterator[str]:
    app = create_app(MOCK_CONFIG)
    with ServerThread(app) as server:
        yield server.url
    _close(app)


@pytest.fixture
def drifting_server() -> Iterator[Callable[..., str]]:
    """Start the mock wrapped in :class:`Drifting`; returns its URL. Stopped after the test."""
    started: list[tuple[ServerThread, Flask]] = []

    def start(**changes: Any) -> str:
        app = create_app(MOCK_CONFIG)
        server = ServerThread(Drifting(app, **changes)).__enter__()
        started.append((server, app))
        return server.url

    yield start
    for server, app in started:
        server.__exit__(None, None, None)
        _close(app)
