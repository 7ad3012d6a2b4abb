"""The app factory: ``create_app(config)`` builds the mock as a Flask app.

The API operations, their intake, answers and the one error handler come from the
protocol layer (:func:`t2i_contract.protocol.install`) over the mock's service,
:class:`~mock_server.runtime.MockRuntime`; the mock adds its image and ``/__mock``
routes (``routes.py``), CORS headers, a WSGI fast path (``fastpath.py``) that
calls the same pipeline, ``GET /healthz`` and ``/readyz`` (``protocol/health.py``:
ready while its SQLite store can be written), and with ``--models`` ``GET /models``
(``wire/models.py``), the ids it knows. Nothing is created at import time, and building an app
costs a few milliseconds, so wrapping it in WSGI middleware for tests is cheap.
"""
from __future__ import annotations

import os

from flask import Flask, Response, request

from t2i_contract.protocol import BodyLimits, Clock, KeyRing, Pipeline, install, json_bytes
from t2i_contract.protocol.health import install_health, sqlite_writable
from t2i_contract.protocol.settings import load_contracts
from t2i_contract.wire.models import MODELS_PATH

from .config import MockConfig
from .fastpath import FastPath
from .page import register_page
from .routes import register_routes
from .runtime import MockRuntime

__all__ = ["CORS_HEADERS", "CORS_PREFLIGHT_HEADERS", "EXTENSION", "create_app"]

EXTENSION = "t2i_mock"

# Every answer allows any origin; a preflight (OPTIONS) also says which methods and
# headers a browser may use. Content-Type and Content-Length are safelisted response
# headers, so nothing needs exposing.
CORS_HEADERS = {"Access-Control-Allow-Origin": "*"}
CORS_PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Prefer, Authorization, X-Requested-With",
    "Access-Control-Max-Age": "600",
}


def create_app(config: MockConfig | None = None, *, clock: Clock | None = None) -> Flask:
    """Build a mock server app; ``config`` defaults to :class:`MockConfig()`, ``clock`` to wall time."""
    config = config or MockConfig()
    mock = MockRuntime.build(config, clock)
    pipelines = [Pipeline(spec, mock, keys=KeyRing(config.keys),
                          limits=BodyLimits.for_spec(spec, config.max_body),  # room for input images
                          forced_errors=True, retry_after=config.retry_after, url_policy=mock.url_policy,
                          public_url=config.public_url)
                 for spec in load_contracts(config.contract)]
    pipeline = pipelines[0]
    app = Flask(__name__)
    app.extensions[EXTENSION] = mock
    for each in pipelines:  # several contracts side by side: their routes never overlap
        install(app, each)
    register_routes(app, mock)
    if config.models:  # the ids it knows, read by t2i test without --model-id; unset, any id is a model
        listed = json_bytes({"models": list(config.models)})
        app.add_url_rule(MODELS_PATH, "t2i_models", lambda: Response(listed, mimetype="application/json"))
    register_page(app, mock)  # GET / and /__mock/behaviour
    # shows which worker answered; tests prove cross-worker state with it
    headers = {"X-T2I-Mock-Worker": str(os.getpid()), **CORS_HEADERS}
    # GET /healthz and /readyz, in front of Flask and behind the fast path (which only takes POSTs)
    install_health(app, {"store": sqlite_writable(mock.store.path)}, headers)
    app.wsgi_app = FastPath(app.wsgi_app, pipeline, headers, enabled=config.fast_path)  # type: ignore[method-assign]

    @app.after_request
    def finish(response: Response) -> Response:
        response.headers.update(headers)
        if request.method == "OPTIONS":
            response.headers.update(CORS_PREFLIGHT_HEADERS)
            wanted = request.headers.get("Access-Control-Request-Headers")
            if wanted:
                response.headers["Access-Control-Allow-Headers"] = wanted
        return response

    return app
