"""A fast path for the calls a load test hammers: POSTs to the spec's fixed API paths.

Flask's request context, URL map and ``after_request`` machinery cost about as
much as the rest of the request put together (validation, SQLite, JSON), so the
app's ``wsgi_app`` is wrapped in :class:`FastPath`. It answers a POST to a path
without parameters (text2img, img2img, inpaint, fetch, model_reload) by calling the very same
:meth:`~t2i_contract.protocol.Pipeline.handle` as the Flask route, errors
included, and writes the :class:`~t2i_contract.protocol.Answer` with the same
headers the app's ``after_request`` adds. Everything else goes to Flask.
``MockConfig(fast_path=False)`` turns it off; ``tests/mock_server/test_fastpath.py``
proves both paths answer alike.

The wrapper sits inside the Flask app, so WSGI middleware wrapping the app (as
the contract tests' deliberately broken servers do) still sees every request.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from werkzeug.http import HTTP_STATUS_CODES

from t2i_contract.protocol import Pipeline, json_bytes

__all__ = ["FastPath"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class FastPath:
    def __init__(self, app: WSGIApp, pipeline: Pipeline, headers: dict[str, str], enabled: bool = True) -> None:
        self.app = app
        self.pipeline = pipeline
        self.enabled = enabled
        self.headers = [("Content-Type", "application/json"), *headers.items()]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        operation_id = self.pipeline.static_posts.get(environ.get("PATH_INFO", "")) if self.enabled else None
        if operation_id is None or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        answer = self.pipeline.handle(operation_id, environ)
        payload = json_bytes(answer.body)
        status = f"{answer.status} {HTTP_STATUS_CODES.get(answer.status, 'UNKNOWN').upper()}"
        start_response(status, [*self.headers, *answer.headers.items(), ("Content-Length", str(len(payload)))])
        return [payload]
