"""Real servers for tests: any WSGI app on a free loopback port, and a webhook listener.

Fixtures in the test packages build on these (app -> running server -> client),
the way httpx's own suite runs a threaded server and exposes ``.url``.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from werkzeug.wrappers import Request, Response

from t2i_contract.contract_tests.listener import SuiteServer

__all__ = ["ServerThread", "WebhookListener", "free_port", "wait_for"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


class ServerThread(SuiteServer):
    """Serve a WSGI app on 127.0.0.1:<free port> (or ``port``) from a background thread: the contract suite's
    own server class, so tests and the suite start and stop servers one way."""

    def __init__(self, app: Callable[..., Any], port: int | None = None) -> None:
        self.app = app
        super().__init__("127.0.0.1", "t2i-test-server", port or 0)
        self.port = self._server.server_port
        self.url = self.root

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self.app(environ, start_response)


@dataclass
class WebhookListener:
    """A real HTTP listener that records every POST it receives.

    ``status_codes`` scripts the answers (e.g. ``[500, 500, 200]`` to test retries);
    once it runs out, every call gets 200. With ``gate``, each call is recorded at
    once but answered only after the test sets the event, so a test can hold a
    delivery open without waiting for any timeout.
    """

    status_codes: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    gate: threading.Event | None = None

    def __post_init__(self) -> None:
        self._arrived = threading.Condition()
        self._server = ServerThread(self._wsgi)
        self.url = self._server.url + "/hook"

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        raw = request.get_data()
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = {"_raw": raw.decode("utf-8", "replace")}
        with self._arrived:
            self.received.append({"path": request.path, "headers": dict(request.headers),
                                  "json": payload, "at": time.monotonic()})
            code = self.status_codes.pop(0) if self.status_codes else 200
            self._arrived.notify_all()
        if self.gate is not None:
            self.gate.wait(60)
        return Response("ok", status=code)(environ, start_response)

    def wait(self, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until ``count`` calls have arrived (woken by each arrival), or fail after ``timeout`` seconds."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"{count} webhook call(s) not received within {timeout}s: {len(self.received)}")
            return list(self.received)

    def __enter__(self) -> WebhookListener:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.gate is not None:
            self.gate.set()
        self._server.__exit__(*exc)
