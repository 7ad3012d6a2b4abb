"""WSGI middleware that makes a server a little wrong, for tests that prove a check fails on it."""
from __future__ import annotations

import io
import json
from typing import Any, Callable, Iterable

WSGIApp = Callable[..., Iterable[bytes]]


def rewriting_request(app: WSGIApp, rewrite: Callable[[dict[str, Any]], dict[str, Any]]) -> WSGIApp:
    """``app`` receiving every JSON request body as ``rewrite`` changed it (other requests as they are)."""
    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if (environ.get("CONTENT_TYPE") or "").startswith("application/json"):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            data = json.dumps(rewrite(json.loads(environ["wsgi.input"].read(length) or b"{}"))).encode()
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(data), str(len(data))
        return app(environ, start_response)
    return middleware


def rewriting_answer(app: WSGIApp, applies: Callable[[dict[str, Any], str], bool],
                     rewrite: Callable[[bytes], bytes]) -> WSGIApp:
    """``app`` whose answers, where ``applies(environ, status)``, are rewritten as bytes by ``rewrite``."""
    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured.update(status=status, headers=headers)
            return lambda data: None
        body = b"".join(app(environ, capture))
        if applies(environ, captured["status"]):
            body = rewrite(body)
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], headers + [("Content-Length", str(len(body)))])
        return [body]
    return middleware


def rewriting_json_answer(app: WSGIApp, applies: Callable[[dict[str, Any], str], bool],
                          rewrite: Callable[[dict[str, Any]], dict[str, Any]]) -> WSGIApp:
    """``app`` whose JSON answers, where ``applies``, are changed by ``rewrite``."""
    return rewriting_answer(app, applies, lambda body: json.dumps(rewrite(json.loads(body))).encode())
