"""The app factory: ``create_app(config)`` builds the mock as a Flask app.

Besides the routes (``routes.py``) the app has exactly one error handler, which
turns every failure (a spec validation error, a :class:`~mock_server.errors.MockError`,
an HTTP error such as 404/405, or an unexpected exception) into the spec's error
shape, and one ``after_request`` hook that adds CORS headers and stores the
request's journal entry. Nothing is created at import time, and building an app
costs a few milliseconds, so wrapping it in WSGI middleware for tests is cheap.
"""
from __future__ import annotations

import logging
import os

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from t2i_contract.spec import RequestError, error_body

from .config import MockConfig
from .errors import STATUS_MESSAGES, MockError
from .fastpath import FastText2Img
from .routes import register_routes
from .runtime import CORS_HEADERS, CORS_PREFLIGHT_HEADERS, MockRuntime, json_response

__all__ = ["EXTENSION", "create_app"]

EXTENSION = "t2i_mock"
log = logging.getLogger(__name__)


def create_app(config: MockConfig | None = None) -> Flask:
    """Build a mock server app; ``config`` defaults to :class:`MockConfig()`."""
    mock = MockRuntime.build(config or MockConfig())
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = mock
    register_routes(app, mock)
    app.wsgi_app = FastText2Img(app.wsgi_app, mock)  # type: ignore[method-assign]
    worker = str(os.getpid())  # shows which gunicorn worker answered; tests prove cross-worker state with it

    @app.errorhandler(Exception)
    def handle_error(exc: Exception) -> Response:
        if isinstance(exc, RequestError):
            return json_response(exc.to_body(), 400)
        if isinstance(exc, MockError):
            return json_response(exc.to_body(), exc.status)
        if isinstance(exc, HTTPException):
            status = exc.code or 500
            message = f"{request.method} {request.path}: {exc.name}"
            return json_response(error_body(message), status)
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return json_response(error_body(STATUS_MESSAGES[500]), 500)

    @app.after_request
    def finish(response: Response) -> Response:
        entry = g.pop("journal", None)
        if entry is not None:
            entry["status"] = response.status_code
            try:
                mock.store.record(entry)
            except Exception:  # the journal must never break an answer
                log.exception("could not record a journal entry")
        headers = response.headers
        headers["X-T2I-Mock-Worker"] = worker
        headers.update(CORS_HEADERS)
        if request.method == "OPTIONS":
            headers.update(CORS_PREFLIGHT_HEADERS)
            wanted = request.headers.get("Access-Control-Request-Headers")
            if wanted:
                headers["Access-Control-Allow-Headers"] = wanted
        return response

    return app
