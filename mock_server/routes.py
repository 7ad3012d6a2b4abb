"""The mock's URL map: the three API operations, the images, and the ``/__mock`` controls.

    POST   /api/v6/images/text2img       start a generation (success, or processing)
    POST   /api/v6/images/fetch/<id>     poll by path id, body {key}
    POST   /api/v6/images/fetch          poll by body, {key, request_id}
    GET    /generations/<id>/<n>.png     sample n of a ready generation (also under /proxy)
    GET    /__mock/requests              the request journal, oldest first
    DELETE /__mock/requests              clear it
    GET    /__mock/health                liveness, for start-up scripts

API routes keep a journal entry in ``flask.g.journal``; the app's ``after_request``
hook stores it with the answer's status unless the route already stored it (text2img
writes its entry in the same transaction as the job).
"""
from __future__ import annotations

from typing import Any

from flask import Flask, Response, g, request

from t2i_contract.spec import parse_fetch, parse_json_body, parse_text2img

from .errors import ForcedError, JobNotFound, RequestRejected
from .intake import check_key, journal_entry, read_body, simulate_latency
from .prefer import Preferences, parse_prefer
from .runtime import MockRuntime, json_response

__all__ = ["register_routes"]

# Statuses each operation documents, so a forced error always validates against the spec.
_FORCEABLE = {
    "text2img": frozenset({400, 401, 402, 404, 429, 500, 503}),
    "fetch": frozenset({400, 401, 404, 429, 500, 503}),
}


def _begin(mock: MockRuntime, operation: str) -> tuple[dict[str, Any], Preferences]:
    """Shared start of every API call: journal, latency, forced errors, body, key."""
    g.journal = journal_entry(request.environ)
    simulate_latency(mock.config)
    prefs = parse_prefer(request.headers.get("Prefer"))
    if prefs.code is not None:
        if prefs.code not in _FORCEABLE[operation]:
            raise RequestRejected("Prefer", "prefer",
                                  f"Prefer code={prefs.code} is not a documented answer of {operation}", prefs.code)
        raise ForcedError(prefs.code, mock.config.retry_after)
    raw = read_body(request, mock.config)
    g.journal["raw"] = raw.decode("utf-8", "replace")
    body = parse_json_body(raw)
    check_key(body, mock.config)
    return body, prefs


def register_routes(app: Flask, mock: MockRuntime) -> None:
    store, payloads = mock.store, mock.payloads
    base = "/api/v6/images"

    @app.post(f"{base}/text2img")
    def text2img() -> Response:
        body, prefs = _begin(mock, "text2img")
        req = parse_text2img(body, mock.spec)
        job = mock.start_generation(req, prefs, request.url_root.rstrip("/"), g.journal)
        g.journal = None  # stored with the job
        return json_response(payloads.answer(job, job.created))

    def fetch_answer(path_id: str | None) -> Response:
        body, _ = _begin(mock, "fetch")
        fetch = parse_fetch(body, path_id=path_id, spec=mock.spec)
        g.journal["normalised"] = {"key": fetch.key, "request_id": fetch.request_id}
        g.journal["job_id"] = fetch.request_id
        job = store.get_job(fetch.request_id)
        if job is None:
            raise JobNotFound(fetch.request_id)
        return json_response(payloads.answer(job))

    @app.post(f"{base}/fetch/<path_id>")
    def fetch_by_id(path_id: str) -> Response:
        return fetch_answer(path_id)

    @app.post(f"{base}/fetch")
    def fetch() -> Response:
        return fetch_answer(None)

    def image(job_id: int, index: int) -> Response:
        job = store.get_job(job_id)
        if job is None:
            raise JobNotFound(job_id)
        if not job.ready():
            raise JobNotFound(job_id, f"its images are not ready yet (eta {job.eta()} s)")
        if index >= int(job.meta.get("samples") or 1):
            raise JobNotFound(job_id, f"it has {job.meta.get('samples')} images, numbered from 0")
        png = mock.images.get(job.id, index, job.meta)
        response = Response(png, mimetype="image/png")
        response.headers["Cache-Control"] = "public, max-age=3600, immutable"
        return response

    @app.get("/generations/<int:job_id>/<int:index>.png")
    def generation_image(job_id: int, index: int) -> Response:
        return image(job_id, index)

    @app.get("/proxy/generations/<int:job_id>/<int:index>.png")
    def proxy_image(job_id: int, index: int) -> Response:
        return image(job_id, index)

    @app.get("/__mock/requests")
    def journal() -> Response:
        return json_response({"requests": store.journal()})

    @app.delete("/__mock/requests")
    def clear_journal() -> Response:
        return json_response({"cleared": store.clear_journal()})

    @app.get("/__mock/health")
    def health() -> Response:
        return json_response({"status": "ok", "pending": store.pending_count()})
