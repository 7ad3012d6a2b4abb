"""A fast path for the one request a load test hammers: a valid text2img.

Flask's request context, URL map and ``after_request`` machinery cost about as
much as the rest of the request put together (validation, SQLite, JSON), so the
app's ``wsgi_app`` is wrapped in :class:`FastText2Img`. It takes a text2img call
that will succeed (JSON body, valid fields, right key, no forced error) and answers
it through the very same :meth:`MockRuntime.start_generation` and
:class:`~mock_server.payloads.Payloads` as the Flask route. Anything else (an error
of any kind, a full queue, chunked bodies) is handed to Flask untouched, body
rewound, so the error handling exists once, in the Flask app. A job is stored only
by the last step that may hand over to Flask, so Flask redoing the work never leaves
a stray job. ``MockConfig(fast_path=False)`` turns it off; the tests
use that to prove both paths answer alike.

The wrapper sits inside the Flask app, so WSGI middleware wrapping the app (as
the contract tests' deliberately broken servers do) still sees every request.
"""
from __future__ import annotations

import io
import json
import logging
import os
from typing import Any, Callable, Iterable

from t2i_contract.spec import error_body, parse_json_body, parse_text2img

from .errors import STATUS_MESSAGES
from .intake import check_key, is_json, journal_entry, simulate_latency
from .prefer import parse_prefer
from .runtime import CORS_HEADERS, MockRuntime

__all__ = ["FastText2Img"]

PATH = "/api/v6/images/text2img"
log = logging.getLogger(__name__)
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class FastText2Img:
    def __init__(self, app: WSGIApp, mock: MockRuntime) -> None:
        self.app = app
        self.mock = mock
        self.enabled = mock.config.fast_path
        self.headers = [("Content-Type", "application/json"), *CORS_HEADERS.items(),
                        ("X-T2I-Mock-Worker", str(os.getpid()))]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not (self.enabled and environ.get("PATH_INFO") == PATH and environ.get("REQUEST_METHOD") == "POST"):
            return self.app(environ, start_response)
        answer = self._try(environ)
        if answer is None:
            return self.app(environ, start_response)
        status, payload = answer
        start_response(status, [*self.headers, ("Content-Length", str(len(payload)))])
        return [payload]

    def _try(self, environ: dict[str, Any]) -> tuple[str, bytes] | None:
        """The answer's status and bytes, or None to let Flask answer (the body is rewound for it)."""
        length = environ.get("CONTENT_LENGTH", "")
        mock = self.mock
        if not is_json(environ.get("CONTENT_TYPE", "")) or not length.isdigit() or int(length) > mock.config.max_body:
            return None
        raw = environ["wsgi.input"].read(int(length))
        environ["wsgi.input"] = io.BytesIO(raw)
        try:
            prefs = parse_prefer(environ.get("HTTP_PREFER"))
            if prefs.code is not None:
                return None
            body = parse_json_body(raw)
            check_key(body, mock.config)
            req = parse_text2img(body, mock.spec)
            simulate_latency(mock.config)
            entry = journal_entry(environ)
            entry["raw"] = raw.decode("utf-8", "replace")
            scheme = environ.get("wsgi.url_scheme", "http")
            host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
            # stores nothing when it raises (a full queue, a failed insert), so Flask may redo it all
            job = mock.start_generation(req, prefs, f"{scheme}://{host}{environ.get('SCRIPT_NAME', '')}", entry)
        except Exception:  # an error of any kind: Flask answers it, and logs the unexpected ones
            return None
        try:
            answer = mock.payloads.answer(job, job.created)
        except Exception:  # the job is stored: answering through Flask would store a second one
            log.exception("could not build the answer for job %s", job.id)
            return "500 INTERNAL SERVER ERROR", _dumps(error_body(STATUS_MESSAGES[500]))
        return "200 OK", _dumps(answer)


def _dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode("utf-8")
