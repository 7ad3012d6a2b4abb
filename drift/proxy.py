"""``t2i proxy``: a validating proxy that checks real traffic against the spec.

``create_app(config)`` builds a Flask app that forwards every call to
``config.upstream`` unchanged and, for the spec's operations, checks both sides:

* the request, with the spec's own parser (``parse_request`` for text2img,
  img2img, inpaint and model_reload, ``parse_fetch`` for both fetch forms), so
  the verdict is exactly what a server built on this toolkit would say;
* the response, with the spec's response validator
  (``spec.responses.check_answer``): a documented status, a documented media
  type, a body that fits the schema. That is the contract suite's
  ``conformance`` check, so ``t2i proxy`` and ``t2i test`` give one verdict.

Violations come back to the client in ``X-T2I-Contract-Violations`` (a count)
and ``X-T2I-Contract-Report`` (a JSON list of messages, ASCII, cut to 4 KB), and
go to the ``drift.proxy`` log as one line per call. Fields the spec does not
list (which the contract allows) are named in ``X-T2I-Contract-Notes``, not
counted as violations. Answers are passed through as they are, but for their
links: image URLs and ``fetch_result`` under the upstream are rewritten to the
proxy (:mod:`drift.relink`), so downloads go through it too and are checked
(a 200, a decodable image, the size ``meta`` promises). Hop-by-hop headers and
the upstream's ``Server`` and ``Date`` (the proxy's server sends its own) are dropped.
"""
from __future__ import annotations

import io
import json
import logging
from typing import Any

import requests
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.formparser import parse_form_data

from t2i_contract.spec import PARSERS, RequestError, Spec, error_body, load_spec, parse_fetch, parse_json_body, \
    parse_request
from t2i_contract.spec.packs import load_contract
from t2i_contract.wire.contract import wire_of
from t2i_contract.wire.routes import route_table
from t2i_contract.wire.validation import request_problems

from .observe import Observer
from .relink import Relinker
from .settings import ProxySettings

__all__ = ["NOTES_HEADER", "REPORT_HEADER", "VIOLATIONS_HEADER", "ProxySettings", "create_app"]

VIOLATIONS_HEADER = "X-T2I-Contract-Violations"
REPORT_HEADER = "X-T2I-Contract-Report"
NOTES_HEADER = "X-T2I-Contract-Notes"
_REPORT_LIMIT = 4096
# Hop-by-hop headers (RFC 9110 7.6.1) and those requests recomputes after decoding the body.
_SKIP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                   "transfer-encoding", "upgrade", "host", "content-length", "content-encoding"})
# Sent by the proxy's own server: the upstream's copies would be duplicates.
_SKIP_ANSWER = _SKIP | {"server", "date"}
log = logging.getLogger(__name__)


class _Checker:
    """Matches a call to a spec operation and lists what breaks the contract."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.routes = route_table(self.spec)

    def operation(self, method: str, path: str) -> tuple[str, str, str | None] | None:
        """(operationId, its pointer in the document, the path's ``id``) for a call of the spec, else None."""
        match = self.routes.match(method, path)
        if match is None:
            return None
        op_id = match.operation_id
        return op_id, self.spec.responses.operation_pointer(op_id), match.params.get("id")

    def request_problems(self, op_id: str, raw: bytes, path_id: str | None,
                         form: dict[str, Any] | None = None) -> list[str]:
        """What breaks the contract in a request; ``form`` holds a multipart body's fields (files as "")."""
        try:
            body = form if form is not None else parse_json_body(raw)
            if op_id not in PARSERS and op_id not in wire_of(self.spec).lifecycle.fetch:  # a pack's operation
                return [f"request: {problem.message}" for problem in request_problems(self.spec, op_id, body)]
            if op_id in PARSERS:
                parse_request(op_id, body, self.spec)
            elif op_id in wire_of(self.spec).lifecycle.fetch:
                parse_fetch(body, path_id=path_id, spec=self.spec)
        except RequestError as exc:
            return [f"request: {problem.message}" for problem in exc.problems]
        return []

    def response_problems(self, op_id: str, status: int, content_type: str, raw: bytes) -> list[str]:
        """The contract suite's verdict (``conformance``), word for word."""
        return [f"response: {p}" for p in self.spec.responses.check_answer(op_id, status, content_type, raw)]

    def response_notes(self, pointer: str, status: int, raw: bytes, label: str) -> list[str]:
        """Fields the spec does not list: allowed by the contract, but worth knowing."""
        try:
            body = json.loads(raw)
        except ValueError:
            return []
        observer = Observer(self.spec)
        observer.record(pointer, status, body, label, validate=False)
        return [f"response: {f.message}" for f in observer.findings() if f.rule == "undocumented-field"]


def _form_of(raw: bytes, content_type: str) -> dict[str, Any]:
    """A multipart body's fields (files as ""), read from the bytes the proxy forwards as they are."""
    environ = {"REQUEST_METHOD": "POST", "CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(raw)),
               "wsgi.input": io.BytesIO(raw)}
    _, form, files = parse_form_data(environ)
    try:
        return {**form.to_dict(), **{name: "" for name in files}}
    finally:
        for upload in files.values():
            upload.close()


def _report(problems: list[str]) -> str:
    text = json.dumps(problems, ensure_ascii=True)
    while len(text) > _REPORT_LIMIT and problems:
        problems = problems[:-1]
        text = json.dumps(problems + ["..."], ensure_ascii=True)
    return text


def _relinked(relinker: Relinker, content: bytes, proxy_base: str) -> bytes:
    """``content`` with its upstream links pointing at the proxy (unchanged when it has none)."""
    try:
        body = json.loads(content)
    except ValueError:
        return content
    return json.dumps(body).encode() if relinker.rewrite(body, proxy_base) else content


def create_app(config: ProxySettings | None = None) -> Flask:
    """Build the proxy app for ``config.upstream`` (default: the mock on 127.0.0.1:4010)."""
    settings = config or ProxySettings()
    checker = _Checker(load_contract(settings.contract) if settings.contract else load_spec())
    upstream = settings.upstream.rstrip("/")
    relinker = Relinker(checker.spec, upstream)
    http = requests.Session()
    app = Flask(__name__)

    @app.errorhandler(Exception)
    def handle_error(exc: Exception) -> Response:
        if isinstance(exc, requests.RequestException):
            body, status = error_body(f"upstream {upstream} did not answer: {type(exc).__name__}"), 502
        elif isinstance(exc, HTTPException):
            body, status = error_body(f"{request.method} {request.path}: {exc.name}"), exc.code or 500
        else:
            log.exception("proxy failure on %s %s", request.method, request.path)
            body, status = error_body("Internal server error. Please try again."), 500
        return Response(json.dumps(body), status=status, mimetype="application/json")

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
    @app.route("/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
    def forward(path: str) -> Response:
        raw = request.get_data()
        route = "/" + path
        operation = checker.operation(request.method, route)
        problems: list[str] = []
        if operation is not None:
            form = _form_of(raw, request.content_type or "") if request.mimetype == "multipart/form-data" else None
            problems += checker.request_problems(operation[0], raw, operation[2], form)
        elif request.method == "POST":
            problems.append(f"request: POST {route} is not an operation of the spec")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _SKIP}
        query = request.query_string.decode("latin-1")
        target = f"{upstream}{route}?{query}" if query else f"{upstream}{route}"
        answer = http.request(request.method, target, data=raw, headers=headers, timeout=settings.timeout,
                              allow_redirects=False)
        notes: list[str] = []
        content = answer.content
        image = request.method == "GET" and relinker.knows(route)
        if operation is not None:
            content_type = answer.headers.get("Content-Type", "")
            problems += checker.response_problems(operation[0], answer.status_code, content_type, content)
            notes = checker.response_notes(operation[1], answer.status_code, content, f"{request.method} {route}")
            content = _relinked(relinker, content, request.host_url.rstrip("/") + request.script_root)
        elif image:
            problems += relinker.image_problems(route, answer.status_code, content)
        response = Response(content, status=answer.status_code,
                            headers=[(k, v) for k, v in answer.headers.items() if k.lower() not in _SKIP_ANSWER])
        if operation is not None or problems or image:
            response.headers[VIOLATIONS_HEADER] = str(len(problems))
            response.headers[REPORT_HEADER] = _report(problems)
            response.headers[NOTES_HEADER] = _report(notes)
            exposed = response.headers.get("Access-Control-Expose-Headers")
            extra = f"{VIOLATIONS_HEADER}, {REPORT_HEADER}, {NOTES_HEADER}"
            response.headers["Access-Control-Expose-Headers"] = f"{exposed}, {extra}" if exposed else extra
            if problems:
                log.warning("%s %s -> %s: %d contract violation(s): %s", request.method, route,
                            answer.status_code, len(problems), "; ".join(problems))
            else:
                log.info("%s %s -> %s: conforms", request.method, route, answer.status_code)
        return response

    return app
