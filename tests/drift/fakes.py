"""A drifting server for tests: WSGI middleware around the real mock that changes its behaviour.

``Drifting(app, request_change=..., response_change=...)`` rewrites text2img
request bodies before the mock sees them (to change a default) and JSON answers
after it (to rename, add or retype a field, or change a status).
"""
from __future__ import annotations

import io
import json
from typing import Any, Callable

from werkzeug.wrappers import Request, Response

__all__ = ["Drifting", "ResponseChange"]

# (path, status code, JSON body) -> (status code, JSON body)
ResponseChange = Callable[[str, int, Any], tuple[int, Any]]


class Drifting:
    def __init__(self, app: Callable[..., Any], *, request_change: Callable[[dict[str, Any]], Any] | None = None,
                 response_change: ResponseChange | None = None) -> None:
        self.app = app
        self.request_change = request_change
        self.response_change = response_change

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        raw = request.get_data()
        if self.request_change and request.path.endswith("/text2img"):
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if isinstance(body, dict):
                raw = json.dumps(self.request_change(body)).encode()
        environ["wsgi.input"] = io.BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))
        response = Response.from_app(self.app, environ)
        if self.response_change and response.mimetype == "application/json":
            status, data = self.response_change(request.path, response.status_code, response.get_json())
            response = Response(json.dumps(data), status=status, mimetype="application/json")
        return response(environ, start_response)
