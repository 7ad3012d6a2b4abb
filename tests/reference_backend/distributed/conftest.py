"""Fixtures for the distributed mode: a real Redis server per test (``redis-server`` on a free port), and a real
S3 server (moto's ``moto_server``) for the tests of the object store."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

pytest.importorskip("dramatiq", reason="the distributed mode needs pip install -e '.[queue]' (make test does it)")

from .cluster import ObjectServer, RedisServer  # noqa: E402


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def object_server(tmp_path: Path) -> Iterator[ObjectServer]:
    server = ObjectServer(tmp_path).start()
    try:
        yield server
    finally:
        server.kill()
