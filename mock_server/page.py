"""The mock's page at ``/`` and its admin endpoint ``/__mock/behaviour``.

    GET    /                    a page for client developers (``static/page.html``)
    GET    /__mock/behaviour    the behaviour applied to the next API calls
    POST   /__mock/behaviour    set it: {"status", "eta", "code", "latency"} (see ``behaviour.py``)
    DELETE /__mock/behaviour    reset it

The page is plain HTML with a little JavaScript, served by the app, with nothing to
build and nothing fetched from elsewhere. It reads the journal
(``GET /__mock/requests``) and shows what the mock received, newest first, with the
answer it sent, thumbnails of the images and the validation errors (each once: the
error list, or the message where there is no list); it filters them, sets the
behaviour, and sends a text2img of its own, following it to its images. A job still
processing shows a placeholder where its images will be (its ``future_links`` answer
404 until it is done), never a broken image. Every value from the journal is
written with ``textContent``: a request body is never markup.

The behaviour endpoint is an admin endpoint under ``/__mock/``: with ``--keys`` it
needs one of them, and it sends no CORS header (both by the guard in ``routes.py``).
It also refuses, with a 403, a call whose ``Origin`` is another site, so not even a
"simple" cross-origin POST that needs no preflight can change it.
"""
from __future__ import annotations

import json
from pathlib import Path

from flask import Flask, Request, Response, request

from t2i_contract.protocol import ProtocolError, json_bytes
from t2i_contract.protocol.pipeline import PIPELINE_EXTENSION, Pipeline
from t2i_contract.spec import Problem

from .behaviour import NOTHING, Behaviour
from .runtime import MockRuntime

__all__ = ["register_page"]

PAGE = Path(__file__).with_name("static") / "page.html"


class CrossOrigin(ProtocolError):
    """403: an admin endpoint called from another site's page."""

    code = "cross_origin"
    status = 403

    def __init__(self, origin: str) -> None:
        message = f"Origin must be this server's own ({request.host_url.rstrip('/')}) for /__mock, got {origin!r}"
        super().__init__(message, (Problem("Origin", "same_origin", message, origin),))


def check_origin(incoming: Request) -> None:
    """Refuse a call from another site's page (403), even one a browser sends without a preflight."""
    origin = incoming.headers.get("Origin")
    if origin is not None and origin.rstrip("/") != incoming.host_url.rstrip("/"):
        raise CrossOrigin(origin)


def page_config(pipeline: Pipeline) -> dict[str, object]:
    """What the page needs to know, read from the spec: where the API is and what it can answer."""
    statuses = sorted({status for route in pipeline.routes
                       for status in pipeline.spec.documented_statuses(route.operation_id) if status >= 400})
    text2img = next((route.path for route in pipeline.routes if route.operation_id == "text2img"), None)
    return {"base_path": pipeline.base_path, "codes": statuses, "text2img": text2img}


def register_page(app: Flask, mock: MockRuntime) -> None:
    pipeline: Pipeline = app.extensions[PIPELINE_EXTENSION]
    # </script> cannot end the script early: the config is JSON with "<" escaped
    config = json.dumps(page_config(pipeline)).replace("<", "\\u003c")
    html = PAGE.read_text("utf-8").replace("__CONFIG__", config)

    def answer(behaviour: Behaviour) -> Response:
        return Response(json_bytes(behaviour.to_json()), mimetype="application/json",
                        headers={"Cache-Control": "no-store"})

    @app.get("/")
    def page() -> Response:
        return Response(html, mimetype="text/html", headers={"Cache-Control": "no-store"})

    @app.get("/__mock/behaviour")
    def show_behaviour() -> Response:
        check_origin(request)
        return answer(mock.behaviour.current())

    @app.post("/__mock/behaviour")
    def set_behaviour() -> Response:
        check_origin(request)
        body = request.get_json(silent=True) if request.is_json else None
        return answer(mock.behaviour.set(Behaviour.from_json(body, mock.spec)))

    @app.delete("/__mock/behaviour")
    def reset_behaviour() -> Response:
        check_origin(request)
        return answer(mock.behaviour.set(NOTHING))
