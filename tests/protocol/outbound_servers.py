"""Real loopback servers that misbehave on purpose, for the outbound client and input-image tests.

:class:`RawServer` speaks TCP on 127.0.0.1 with a script per connection: it reads
the request head, records it, then sends what the script says, and can hold the
connection open until the test releases it (a receiver that stalls mid-answer).
:func:`routes_app` is a WSGI app serving fixed answers per path, for ServerThread.
"""
from __future__ import annotations

import socket
import socketserver
import threading
from typing import Any, Callable

from werkzeug.wrappers import Request, Response

__all__ = ["RawServer", "closed_port", "routes_app"]


class RawServer:
    """A TCP server on 127.0.0.1 whose answer is ``script(send)``, called once per connection.

    ``script`` gets a ``send(bytes)`` function; :attr:`release` is an Event the script
    may wait on to hold the connection open. :attr:`heads` keeps each request head.
    """

    def __init__(self, script: Callable[[Callable[[bytes], None], RawServer], None]) -> None:
        self.release = threading.Event()
        self.answered = threading.Event()
        self.heads: list[bytes] = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = self.request.recv(65536)
                    if not chunk:
                        return
                    head += chunk
                outer.heads.append(head)
                try:
                    script(self.request.sendall, outer)
                except OSError:
                    pass  # the client hung up, as it should when its deadline passes

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed): connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def routes_app(routes: dict[str, tuple[int, dict[str, str], bytes]],
               seen: list[dict[str, Any]] | None = None) -> Callable[..., Any]:
    """A WSGI app answering ``routes[path] = (status, headers, body)``; 404 elsewhere. Records requests in ``seen``."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        if seen is not None:
            seen.append({"method": request.method, "path": request.path, "headers": dict(request.headers),
                         "body": request.get_data()})
        status, headers, body = routes.get(request.path, (404, {}, b"not found"))
        return Response(body, status=status, headers=headers)(environ, start_response)

    return app
