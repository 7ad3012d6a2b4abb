"""The webhook receiver the suite starts for the ``webhook`` check.

A real HTTP server on ``host`` (127.0.0.1 by default) and a free port, in a
background thread. It answers every POST with 200 and records the decoded JSON
payload (and what ``on_arrival`` made of it as it came), so the check can wait for
one with the right ``id`` and ``track_id``.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, TypeVar

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

__all__ = ["Delivery", "QuietHandler", "SuiteServer", "WebhookReceiver"]


@dataclass(frozen=True)
class Delivery:
    """One POST the receiver got; ``seen`` is what its ``on_arrival`` made of the payload as it arrived."""

    path: str
    payload: Any
    raw: str
    seen: Any = None


class QuietHandler(WSGIRequestHandler):
    """No access log: the suite's report is its only output."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


_L = TypeVar("_L", bound="SuiteServer")


class SuiteServer:
    """A threaded WSGI server of the suite's own on ``host`` and a free port (or ``port``); a context manager.

    ``root`` is its URL (``http://127.0.0.1:PORT``, brackets around an IPv6 host);
    subclasses answer in ``_wsgi``.
    """

    def __init__(self, host: str, name: str, port: int = 0) -> None:
        self._server = make_server(host, port, self._wsgi, threaded=True, request_handler=QuietHandler)
        self.root = f"http://{f'[{host}]' if ':' in host else host}:{self._server.server_port}"
        # shutdown() waits for the loop to look up: every 50 ms, not socketserver's 0.5 s, so stopping is prompt
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name=name)

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        raise NotImplementedError

    def __enter__(self: _L) -> _L:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class WebhookReceiver(SuiteServer):
    """Records webhook deliveries; use as a context manager.

    ``on_arrival(payload)`` runs as each delivery arrives, before the receiver answers (the
    ``webhook`` check downloads the payload's images then: a server must not announce
    images it cannot serve yet); what it returns is kept as the delivery's ``seen``.
    """

    def __init__(self, host: str = "127.0.0.1", on_arrival: Callable[[Any], Any] | None = None) -> None:
        super().__init__(host, "t2i-webhook-receiver")
        self.on_arrival = on_arrival
        self.url = f"{self.root}/hook"
        self._deliveries: list[Delivery] = []
        self._arrived = threading.Condition()

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        raw = request.get_data(as_text=True)
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        seen = self.on_arrival(payload) if self.on_arrival is not None else None
        with self._arrived:
            self._deliveries.append(Delivery(request.path, payload, raw[:2000], seen))
            self._arrived.notify_all()
        return Response('{"ok": true}', status=200, mimetype="application/json")(environ, start_response)

    @property
    def deliveries(self) -> list[Delivery]:
        with self._arrived:
            return list(self._deliveries)

    def wait_for(self, match: Callable[[Delivery], bool], timeout: float) -> Delivery | None:
        """The first delivery ``match`` accepts, waiting up to ``timeout`` seconds for it."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for delivery in self._deliveries:
                    if match(delivery):
                        return delivery
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._arrived.wait(left)
