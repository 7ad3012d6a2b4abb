"""The Flask app of the reference backend: the spec's three endpoints, images, and a page.

``create_app(config=None, *, generator=None)`` builds everything: the SQLite job
store and image folder under ``config.data_dir``, the generator (diffusers unless
a test injects one) and the worker threads. Routes:

- ``POST /api/v6/images/text2img``, ``POST /api/v6/images/fetch/<id>``,
  ``POST /api/v6/images/fetch``: the contract;
- ``GET /images/<job>-<n>.png``: the generated images;
- ``GET /``: a small page with a form, to try the server from a browser.

A client that sends ``Prefer: respond-async`` (or the mock's ``Prefer:
status=processing``) gets ``processing`` at once, whatever ``sync_timeout`` says;
the job runs as usual. One error handler turns every failure into the spec's error shape; nothing
answers with a traceback. With ``config.keys`` set, a missing or unknown key gets
401 "Invalid API key"; keys are compared in constant time and never logged.
"""
from __future__ import annotations

import hmac
import logging
import tempfile
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request, send_file
from werkzeug.exceptions import HTTPException

from t2i_contract.spec import RequestError, error_body, load_spec, parse_fetch, parse_json_body, parse_text2img

from .config import BackendConfig
from .errors import AuthError, BackendError, NotFoundError
from .generator import Generator
from .jobs import Job, JobStore
from .page import INDEX_HTML
from .responses import failed_body, processing_body, success_body
from .service import INTERNAL_ERROR, JobService
from .storage import ImageStore

__all__ = ["EXTENSION", "create_app"]

log = logging.getLogger(__name__)
EXTENSION = "t2i_backend"
API = "/api/v6/images"


def _check_key(config: BackendConfig, body: dict[str, Any]) -> str:
    key = body.get("key")
    if not config.keys:
        return key if isinstance(key, str) else ""
    if not isinstance(key, str) or not key:
        raise AuthError()
    supplied = key.encode("utf-8")
    matched = False
    for known in config.keys:
        matched |= hmac.compare_digest(supplied, known.encode("utf-8"))
    if not matched:
        raise AuthError()
    return key


def _wants_async(header: str | None) -> bool:
    """``Prefer: respond-async`` (RFC 7240) or the mock's ``status=processing``: answer without waiting."""
    tokens = {part.strip().lower().replace(" ", "") for part in (header or "").replace(";", ",").split(",")}
    return "respond-async" in tokens or "status=processing" in tokens


def create_app(config: BackendConfig | None = None, *, generator: Generator | None = None) -> Flask:
    """Build the app and start its workers; ``app.extensions[EXTENSION]`` is the JobService."""
    config = config or BackendConfig()
    if generator is None:
        from .diffusion import DiffusersGenerator

        generator = DiffusersGenerator.from_config(config)
    data_dir = config.data_dir or Path(tempfile.mkdtemp(prefix="t2i-backend-"))
    spec = load_spec()
    service = JobService(config, generator, JobStore(data_dir / "jobs.sqlite3"), ImageStore(data_dir / "images"))

    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = service

    def base_url() -> str:
        return (config.public_url or request.host_url).rstrip("/")

    def answer_job(job: Job, status_on_error: bool) -> tuple[Response, int]:
        if job.state == "success":
            return jsonify(success_body(job, service.images, base_url())), 200
        if job.state == "failed":
            return jsonify(failed_body(job)), (job.error_status or 500) if status_on_error else 200
        return jsonify(processing_body(job, service.eta(job), base_url())), 200

    @app.post(f"{API}/text2img")
    def text2img() -> tuple[Response, int]:
        body = parse_json_body(request.get_data())
        _check_key(config, body)  # before validation: a wrong key learns nothing about the body
        parsed = parse_text2img(body, spec)
        job = service.submit(parsed, base_url())
        if not _wants_async(request.headers.get("Prefer")):
            job = service.wait(job.id, config.sync_timeout)
        return answer_job(job, status_on_error=True)

    def fetch(path_id: str | None) -> tuple[Response, int]:
        body = parse_json_body(request.get_data())
        key = _check_key(config, body)
        fetch_request = parse_fetch(body, path_id=path_id, spec=spec)
        job = service.get(fetch_request.request_id, key, check_owner=bool(config.keys))
        return answer_job(job, status_on_error=False)

    @app.post(f"{API}/fetch/<path:path_id>")
    def fetch_by_id(path_id: str) -> tuple[Response, int]:
        return fetch(path_id)

    @app.post(f"{API}/fetch")
    def fetch_by_body() -> tuple[Response, int]:
        return fetch(None)

    @app.get("/images/<name>")
    def image(name: str) -> Response:
        path = service.images.path(name)
        if path is None:
            raise NotFoundError(f"Image not found: {name}")
        job_id = int(name.split("-", 1)[0])
        job = service.store.get(job_id)
        if job is None or name not in job.images:
            raise NotFoundError(f"Image not found: {name}")
        service.get(job_id, "", check_owner=False)  # raises once a temp image has expired
        return send_file(path, mimetype="image/png", max_age=0 if job.expires_at else 3600)

    @app.get("/")
    def index() -> Response:
        return Response(INDEX_HTML, mimetype="text/html")

    @app.errorhandler(Exception)
    def error(exc: Exception) -> tuple[Response, int]:
        """The one error handler: every failure becomes the spec's error shape, never a traceback."""
        if isinstance(exc, RequestError):
            return jsonify(exc.to_body()), 400
        if isinstance(exc, BackendError):
            response = jsonify(exc.to_body())
            retry_after = getattr(exc, "retry_after", None)
            if retry_after is not None:
                response.headers["Retry-After"] = str(retry_after)
            return response, exc.status
        if isinstance(exc, HTTPException):
            return jsonify(error_body(f"{exc.name}: {exc.description}")), exc.code or 500
        log.exception("unexpected error on %s %s", request.method, request.path)
        return jsonify(error_body(INTERNAL_ERROR)), 500

    service.start()
    return app
