"""Fixtures for the mock's tests: config -> app -> running server -> client.

``mock`` is a real HTTP server (werkzeug, threaded) on a free loopback port, shared
by the session; :class:`MockClient` posts to it with ``requests``. ``make_mock`` starts extra servers with
a custom :class:`MockConfig` (and, for tests of time, a :class:`ManualClock`) and shuts them down after the test.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests

from t2i_contract.mock_server import EXTENSION, MockConfig, create_app
from t2i_contract.protocol import Clock
from t2i_contract.spec import load_spec
from tests.support import ServerThread

ROOT = Path(__file__).resolve().parents[2]
API = "/api/v6/images"


class MockClient:
    """A running mock and a ``requests`` session pointed at it."""

    def __init__(self, server: ServerThread) -> None:
        self.server = server
        self.url = server.url
        self.http = requests.Session()
        self.runtime = server.app.extensions[EXTENSION]

    def post(self, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
             data: bytes | str | None = None) -> requests.Response:
        url = self.url + (path if path.startswith("/") else f"{API}/{path}")
        if data is not None:
            return self.http.post(url, data=data, headers=headers, timeout=10)
        return self.http.post(url, json=body, headers=headers, timeout=10)

    def text2img(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> requests.Response:
        return self.post("text2img", body, headers=headers)

    def fetch(self, job_id: int | str, key: str = "any-key") -> requests.Response:
        return self.post(f"fetch/{job_id}", {"key": key})

    def fetch_body(self, job_id: int, key: str = "any-key") -> requests.Response:
        return self.post("fetch", {"key": key, "request_id": job_id})

    def get(self, url: str) -> requests.Response:
        return self.http.get(url if url.startswith("http") else self.url + url, timeout=10)


def conforms(operation: str, response: requests.Response) -> list[str]:
    """Spec problems of one HTTP answer (empty when it conforms)."""
    return load_spec().responses.check(operation, response.status_code, response.json())


@pytest.fixture
def body() -> dict[str, Any]:
    """A small valid text2img body in canonical types."""
    return {"key": "test-key", "model_id": "f222-diffusion", "prompt": "a lighthouse on a cliff at dawn",
            "width": 256, "height": 256, "seed": 7}


@pytest.fixture
def upstream_body() -> dict[str, Any]:
    return json.loads((ROOT / "examples" / "upstream-example.json").read_text())


@pytest.fixture
def make_mock(tmp_path: Path) -> Iterator[Callable[..., MockClient]]:
    started: list[tuple[ServerThread, MockClient]] = []

    def start(*, clock: Clock | None = None, **settings: Any) -> MockClient:
        settings.setdefault("db_path", tmp_path / f"mock{len(started)}.sqlite3")
        server = ServerThread(create_app(MockConfig(**settings), clock=clock))
        server.__enter__()
        client = MockClient(server)
        started.append((server, client))
        return client

    yield start
    for server, client in started:
        client.http.close()
        server.__exit__(None, None, None)
        client.runtime.close()


@pytest.fixture(scope="session")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockClient]:
    """One mock with the default settings, shared by every test that needs nothing special.

    Shutting a werkzeug server down takes half a second, so tests share this one;
    none of them may depend on state another left behind (use ``make_mock`` for that).
    """
    db = tmp_path_factory.mktemp("mock") / "mock.sqlite3"
    with ServerThread(create_app(MockConfig(db_path=db))) as server:
        client = MockClient(server)
        yield client
        client.http.close()
    client.runtime.close()
