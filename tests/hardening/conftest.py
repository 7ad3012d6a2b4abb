"""Servers for the regression tests of issue 10: either server, with the settings a test names.

``launch(kind, **config)`` starts the mock (``kind="mock"``: the Flask app on a test thread)
or the reference backend (``kind="backend"``: on the session's tiny diffusers model, on a test
thread) on a free loopback port and returns a :class:`~tests.servers.targets.Target` for it;
the server stops when the test ends. Keyword arguments are that server's own config fields.
Both servers start with one key (``KEY``) and fast webhook retries; the backend starts with its
default URL policy (private targets refused), the mock with its own (private targets allowed).
``receiver`` is a loopback webhook listener; ``trickle`` a receiver that never finishes its answer.
"""
from __future__ import annotations

import socket
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pytest

from tests.reference_backend.support import KeepOpen, serve
from tests.servers.targets import KEY, Target
from tests.support import ServerThread, WebhookListener

if TYPE_CHECKING:
    from t2i_contract.reference_backend import Generator

KINDS = ("mock", "backend")
WEBHOOK_TIMEOUT = 120.0  # a guard against a hung receiver, never a claim about speed
Launch = Callable[..., Target]


@pytest.fixture
def launch(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Launch]:
    with ExitStack() as stack:
        count = iter(range(1000))

        def start(kind: str, **config: Any) -> Target:
            data_dir = tmp_path / f"{kind}-{next(count)}"
            data_dir.mkdir()
            config.setdefault("keys", (KEY,))
            config.setdefault("webhook_backoff", 0.01)
            config.setdefault("webhook_timeout", WEBHOOK_TIMEOUT)
            if kind == "mock":
                from t2i_contract.mock_server import EXTENSION, MockConfig, create_app

                config.setdefault("db_path", data_dir / "mock.sqlite3")
                app = create_app(MockConfig(**config))
                stack.callback(app.extensions[EXTENSION].close)
                url = stack.enter_context(ServerThread(app)).url
            else:
                generator: Generator = request.getfixturevalue("tiny_generator")
                config.setdefault("private_urls", "deny")  # t2i serve's default
                url = stack.enter_context(serve(KeepOpen(generator), data_dir, **config)).url
            target = Target(kind, url)
            stack.callback(target.close)
            return target

        yield start


@pytest.fixture
def receiver() -> Iterator[WebhookListener]:
    with WebhookListener() as listener:
        yield listener


class Trickle:
    """A webhook receiver that reads the request, then sends its answer one byte at a time, forever.

    A client whose timeout applies per read never gives up on it; only a total deadline does.
    ``connections`` counts the deliveries it holds or held.
    """

    PACE = 0.2  # seconds between bytes: the hostile receiver's pace, not a wait of the test's

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(self.PACE)  # so the accept loop sees ``stop``
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/slow"
        self.stop = threading.Event()
        self.connections = 0
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Trickle:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                while not self.stop.wait(self.PACE):
                    conn.sendall(b"X")
            except OSError:
                return

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)


@pytest.fixture
def trickle() -> Iterator[Trickle]:
    with Trickle() as receiver:
        yield receiver
