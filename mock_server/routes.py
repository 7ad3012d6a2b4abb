"""The mock's own routes, beside the API operations the protocol layer routes.

    GET    /generations/<id>/<n>.png     sample n of a ready generation (also under /proxy)
    GET    /__mock/requests              the request journal, oldest first
    DELETE /__mock/requests              clear it
    GET    /__mock/health                liveness, for start-up scripts

The API operations themselves (text2img, both fetch forms, and any operation the
spec adds) are routed by :func:`t2i_contract.protocol.install`.
"""
from __future__ import annotations

from flask import Flask, Response

from t2i_contract.protocol import NotFound, json_bytes

from .runtime import MockRuntime

__all__ = ["register_routes"]


def _json(body: object) -> Response:
    return Response(json_bytes(body), mimetype="application/json")


def register_routes(app: Flask, mock: MockRuntime) -> None:
    store = mock.store

    def image(job_id: int, index: int) -> Response:
        job = store.get_job(job_id)
        if job is None:
            raise NotFound.generation(job_id)
        now = mock.clock.now()
        if not job.ready(now):
            raise NotFound.generation(job_id, f"its images are not ready yet (eta {job.eta(now)} s)", rule="ready")
        if index >= int(job.meta.get("samples") or 1):
            raise NotFound.generation(job_id, f"it has {job.meta.get('samples')} images, numbered from 0",
                                      rule="index")
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
        return _json({"requests": store.journal()})

    @app.delete("/__mock/requests")
    def clear_journal() -> Response:
        return _json({"cleared": store.clear_journal()})

    @app.get("/__mock/health")
    def health() -> Response:
        return _json({"status": "ok", "pending": store.pending_count()})
