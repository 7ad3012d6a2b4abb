"""The mock's own routes, beside the API operations the protocol layer routes.

    GET    /generations/<token>-<n>.png  sample n of a ready generation (also under /proxy)
    GET    /__mock/requests              the request journal, oldest first (filters below)
    DELETE /__mock/requests              clear it, and give its space back
    GET    /__mock/health                liveness, for start-up scripts

Images are named by the job's token (128 bits, ``protocol.ownership.ImageNames``),
never by its id, so a job id grants nothing.

The ``/__mock/`` endpoints are for the developer running the mock, not for web pages:
they never answer another origin (no ``Access-Control-Allow-*`` header, so a browser
refuses a cross-origin read and the preflight of a cross-origin DELETE), nor a Host
that is not the mock's own (DNS rebinding), and with ``--keys`` every one but
``health`` needs one of the keys, sent as ``Authorization: Bearer <key>``,
``X-API-Key: <key>`` or ``?key=<key>``, and shows that key only its own journal
entries (``--admin-key`` sees all: ``admin.py``). The API's own CORS stays open:
browser clients call the mock.

``GET /__mock/requests`` takes ``limit`` (at most N entries), ``since`` (entries after
that ``seq``), ``path`` (paths starting with it) and ``status`` (``404`` or ``4xx``).
"""
from __future__ import annotations

from typing import Any

from flask import Flask, Response, request

from t2i_contract.protocol import KeyRing, NotFound, RequestRejected, json_bytes
from t2i_contract.protocol.pipeline import PIPELINES_EXTENSION
from t2i_contract.spec import Spec
from t2i_contract.wire.answers import answers_for
from t2i_contract.wire.routes import route_table

from .admin import Viewer, check_host, viewer_of
from .journal import JournalQuery, kept_answer
from .runtime import MockRuntime

__all__ = ["ADMIN_PREFIX", "register_routes"]

ADMIN_PREFIX = "/__mock/"
OPEN_ADMIN_PATHS = frozenset({"/__mock/health"})


def _json(body: object) -> Response:
    return Response(json_bytes(body), mimetype="application/json")


def _int_arg(name: str, low: int) -> int | None:
    text = request.args.get(name)
    if text is None:
        return None
    if not text.isdigit() or int(text) < low or len(text) > 18:
        raise RequestRejected(name, "type", f"{name} must be a whole number of {low} or more, got {text!r}", text)
    return int(text)


def journal_query(owner: str | None = None) -> JournalQuery:
    """The journal filters of this request (``owner``'s entries only, when given), or a 400 naming a wrong one."""
    status = request.args.get("status")
    if status is not None and not (len(status) == 3 and status[0] in "12345"
                                   and (status[1:].isdigit() or status[1:] == "xx")):
        raise RequestRejected("status", "pattern", f"status must be a status (404) or a class (4xx), got {status!r}",
                              status)
    return JournalQuery(limit=_int_arg("limit", 0), since=_int_arg("since", 0) or 0,
                        path=request.args.get("path") or None, status=status, owner=owner)


def register_routes(app: Flask, mock: MockRuntime) -> None:
    store = mock.store
    keys = KeyRing(mock.config.keys)
    admin = KeyRing((mock.config.admin_key,) if mock.config.admin_key else ())

    def caller() -> Viewer:
        return viewer_of(request, keys, admin, mock.owners)

    @app.before_request
    def guard_admin() -> None:
        path = request.path
        if not path.startswith(ADMIN_PREFIX):
            return
        check_host(request, mock.config)  # every /__mock/ route, health too: no DNS rebinding
        if path in OPEN_ADMIN_PATHS or request.method == "OPTIONS":
            return
        caller()

    @app.after_request
    def same_origin_admin(response: Response) -> Response:
        # registered before the app's CORS hook, so it runs after it and has the last word
        if request.path.startswith(ADMIN_PREFIX):
            for name in [n for n in response.headers.keys() if n.lower().startswith("access-control-")]:
                del response.headers[name]
            if request.method == "OPTIONS" and request.headers.get("Origin"):
                response.status_code = 403
        return response

    def image(name: str) -> Response:
        parsed = mock.names.job_of_name(name)
        job = store.get_job(parsed[0]) if parsed else None
        if job is None or parsed is None:
            raise NotFound(f"Not found: no generation has an image named {name!r}", field="", value=name)
        index = parsed[1]
        now = mock.clock.now()
        if not job.ready(now):
            raise NotFound.generation(job.id, f"its images are not ready yet (eta {job.eta(now)} s)", rule="ready")
        if index >= int(job.meta.get("samples") or 1):
            raise NotFound.generation(job.id, f"it has {job.meta.get('samples')} images, numbered from 0",
                                      rule="index")
        png = mock.images.get(job.id, index, job.meta)
        response = Response(png, mimetype="image/png")
        response.headers["Cache-Control"] = "public, max-age=3600, immutable"
        return response

    @app.get("/generations/<name>")
    def generation_image(name: str) -> Response:
        return image(name)

    @app.get("/proxy/generations/<name>")
    def proxy_image(name: str) -> Response:
        return image(name)

    contracts = [pipeline.spec for pipeline in app.extensions.get(PIPELINES_EXTENSION, ())] or [mock.spec]

    def contract_of(path: str) -> Spec:
        """The contract whose operation the journal entry's path called (the answer is in its shape)."""
        return next((spec for spec in contracts if route_table(spec).match("POST", path)), mock.spec)

    def with_answer(entry: dict[str, Any]) -> dict[str, Any]:
        """A generation's entry is stored with its job, before the answer exists: the answer as sent, rebuilt."""
        job_id = entry.get("job_id")
        if entry.get("answer") is None and isinstance(job_id, int) and entry.get("status") == 200:
            job = store.get_job(job_id)
            if job is not None and not job.meta.get("base64"):  # base64 answers would be drawn again
                sent = mock.view(job, max(float(entry.get("at") or 0), job.created))  # as it was then
                entry["answer"] = kept_answer(answers_for(contract_of(str(entry.get("path", "")))).answer(sent))
        return entry

    @app.get("/__mock/requests")
    def journal() -> Response:
        return _json({"requests": [with_answer(entry) for entry in store.journal(journal_query(caller().owner))]})

    @app.delete("/__mock/requests")
    def clear_journal() -> Response:
        return _json({"cleared": store.clear_journal(caller().owner)})

    @app.get("/__mock/health")
    def health() -> Response:
        return _json({"status": "ok", "pending": store.pending_count()})
