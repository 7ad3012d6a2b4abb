"""Fixtures for the drift tests: the real mock server, and a factory for drifting ones."""
from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from mock_server import MockConfig, create_app
from tests.support import ServerThread

from .fakes import Drifting

# Half the generations answer "processing" first, ready after 0.05 s, so drift follows both fetch forms.
MOCK_CONFIG = MockConfig(processing_ratio=0.5, eta=0.05)


@pytest.fixture(scope="session")
def mock_url() -> Iterator[str]:
    with ServerThread(create_app(MOCK_CONFIG)) as server:
        yield server.url


@pytest.fixture
def drifting_server() -> Iterator[Callable[..., str]]:
    """Start the mock wrapped in :class:`Drifting`; returns its URL. Stopped after the test."""
    servers: list[ServerThread] = []

    def start(**changes: Any) -> str:
        server = ServerThread(Drifting(create_app(MOCK_CONFIG), **changes)).__enter__()
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.__exit__(None, None, None)
