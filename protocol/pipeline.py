"""The one pipeline every API call of every server goes through, and the Flask app around it.

:class:`Pipeline` derives its route table from the spec's operations: an operation
added to ``text2img.yaml`` gets its route, intake, validation and error answers
here, without hand-written routing (a server that has not implemented it answers a
404 in the error shape naming the operation). :meth:`Pipeline.handle` runs one call
from a WSGI ``environ`` to an :class:`Answer` and never raises, so the mock's WSGI
fast path and the Flask routes answer alike by construction:

    service.begin -> Prefer -> forced error -> Content-Type, size -> JSON -> key
    -> spec validation (``spec.PARSERS``) -> input images -> service.submit / fetch
    / reload_model / operation -> payload -> service.finish

Every generation operation (text2img, img2img, inpaint) takes the same path to
``service.submit``. The input images of img2img and inpaint are loaded here, once,
under the server's URL policy, before the service stores anything: a refused,
unreachable, non-image, out-of-size or mismatched input is a 400 naming its
field. They travel on ``Call.inputs``, and the request's ``width`` and ``height``
become the init image's size, the size of the output (DECISIONS D20).

:func:`install` puts it on a Flask app: one route per operation, and the one error
handler (``errors.error_answer``) for everything else the app serves, so a 404, a
405 (with ``Allow``) or a crash in a server's own route gets the same error shape.
"""
from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Flask, Response, request
from werkzeug.wsgi import get_current_url

from t2i_contract.spec import PARSERS, GenerationRequest, Spec, ValidationError, parse_fetch, parse_json_body
from t2i_contract.wire.answers import FAILED, answers_for
from t2i_contract.wire.contract import wire_of
from t2i_contract.wire.errors import render_error
from t2i_contract.wire.prefer import parse_prefer
from t2i_contract.wire.routes import Route, route_table

from .errors import ForcedError, NotFound, RequestRejected, error_answer
from .fairness import DEFAULT_FETCHES_PER_ADDRESS, DEFAULT_FETCHES_PER_CLIENT, Shares, client_share
from .inputs import is_fetched, load_input_images
from .intake import BodyLimits, KeyRing, read_body
from .jsonio import json_bytes
from .generic import GenericOperations
from .service import Call, OperationNotImplemented, Service
from .urls import UrlPolicy

__all__ = ["PIPELINES_EXTENSION", "PIPELINE_EXTENSION", "Answer", "Pipeline", "Route", "install", "json_bytes"]

PARSED_BODY_BYTES = 4096
"""The largest body whose typed request a pipeline keeps for the same bytes sent again (see ``Pipeline._parse``)."""
PARSED_BODIES = 256
"""How many such bodies a pipeline keeps; past that it starts over."""
PIPELINE_EXTENSION = "t2i_pipeline"
PIPELINES_EXTENSION = "t2i_pipelines"

# An operation with a parser in spec.PARSERS reaches the service typed (generations
# through submit, modelReload through reload_model); the fetch forms (the document's
# x-t2i-wire lifecycle) through fetch; any other is validated against its schema and
# handed to Service.operation as a dict.


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def to_response(self) -> Response:
        response = Response(json_bytes(self.body), status=self.status, mimetype="application/json")
        response.headers.update(self.headers)
        return response


class Pipeline:
    """Intake, validation and answers of the contract, over one :class:`Service`.

    ``forced_errors`` lets ``Prefer: code=N`` force any status the operation documents
    (the mock); without it the preference is ignored, as RFC 7240 allows.
    ``public_url`` replaces the URL the client came in on as the base of every link.
    ``url_policy`` checks a request's ``webhook`` at submission and fetches its input
    images: a URL it refuses is a 400 naming the field, the host and the flag that
    would allow it (without one, :class:`UrlPolicy`'s defaults apply to the inputs).
    """

    def __init__(self, spec: Spec, service: Service, *, keys: KeyRing | None = None,
                 limits: BodyLimits | None = None, forced_errors: bool = False, retry_after: int | None = None,
                 public_url: str | None = None, url_policy: UrlPolicy | None = None) -> None:
        self.spec = spec
        self.service = service
        self.keys = keys or KeyRing()
        self.limits = limits or BodyLimits.for_spec(spec)
        self.forced_errors = forced_errors
        self.retry_after = retry_after
        self.public_url = public_url.rstrip("/") if public_url else None
        self.url_policy = url_policy
        self.fetch_shares = Shares(DEFAULT_FETCHES_PER_CLIENT)  # requests fetching input images, per client
        self.address_shares = Shares(DEFAULT_FETCHES_PER_ADDRESS)  # input-image fetches, per resolved address
        self._base_urls: dict[tuple[Any, ...], str] = {}
        self._parsed: dict[tuple[str, bytes], Any] = {}  # see _parse
        self.base_path = spec.base_path
        self.routes = route_table(spec)
        self.answers = answers_for(spec)
        self._fetches = frozenset(wire_of(spec).lifecycle.fetch)
        self._signal = wire_of(spec).not_implemented
        self.wire = wire_of(spec)
        self._v6_errors = self.wire.error.body == {"status": "error", "message": "{message}", "errors": "{problems}"}
        self.generic = GenericOperations(self)
        self.static_posts = {r.path: r.operation_id for r in self.routes if r.method == "POST" and not r.params}
        self._statuses = {r.operation_id: frozenset(spec.documented_statuses(r.operation_id)) for r in self.routes}
        # read from the document once: resolving every property's $ref per call cost more than validating it
        self._image_fields = {r.operation_id: spec.input_image_fields(r.operation_id) for r in self.routes
                              if r.method == "POST" and r.operation_id in PARSERS}

    def waits_on(self, operation_id: str) -> tuple[str, ...] | None:
        """The body fields whose value, when set, makes a call of ``operation_id`` wait on the network.

        Its input images (fetched when a URL) and ``webhook`` (its host resolved at
        submission); a call without them is CPU and the service's own storage. None for
        an operation whose waits this pipeline cannot tell (a contract pack's, in
        ``protocol.generic``): assume it may wait.
        """
        if self.generic.handles(operation_id):
            return None
        if operation_id in self._image_fields:
            return (*self._image_fields[operation_id], "webhook")
        if operation_id in self._fetches:
            return ()
        return None

    def base_url(self, environ: dict[str, Any]) -> str:
        """Where the client reached the server (as Flask's ``request.url_root``), or ``public_url``."""
        if self.public_url:
            return self.public_url
        key = (environ.get("wsgi.url_scheme"), environ.get("HTTP_HOST"), environ.get("SERVER_NAME"),
               environ.get("SERVER_PORT"), environ.get("SCRIPT_NAME"))
        url = self._base_urls.get(key)
        if url is None:  # a handful of distinct hosts per server: parse each once
            if len(self._base_urls) > 64:
                self._base_urls.clear()
            url = self._base_urls[key] = get_current_url(environ, root_only=True).rstrip("/")
        return url

    def handle(self, operation_id: str, environ: dict[str, Any], params: dict[str, str] | None = None) -> Answer:
        """Answer one API call; every failure becomes the spec's error shape (never raises)."""
        call = Call(operation_id, environ, self.base_url(environ), spec=self.spec)
        try:
            try:
                result = self._run(call, params or {})
            except OperationNotImplemented as missing:
                raise self._unimplemented(missing.operation_id) from None
        except Exception as exc:  # the one error handler answers it
            status, body, headers = error_answer(exc, environ.get("REQUEST_METHOD", ""),
                                                 environ.get("PATH_INFO", ""))
            if not self._v6_errors:
                status = self.wire.error.status if status == 400 else status
                body = render_error(self.wire, body)
            result = Answer(status, body, headers)
        call.answer = result.body
        self.service.finish(call, result.status)
        return result

    def _run(self, call: Call, params: dict[str, str]) -> Answer:
        service, operation_id = self.service, call.operation_id
        service.begin(call)
        call.prefs = prefs = parse_prefer(call.environ.get("HTTP_PREFER"))
        if prefs.code is not None and self.forced_errors:
            self._force(operation_id, prefs.code)
        if self.generic.handles(operation_id):  # a contract pack's operation (protocol.generic)
            return self.generic.run(call, Answer)
        call.raw = read_body(call.environ, self.limits.of(operation_id))
        call.body = body = parse_json_body(call.raw)
        self.keys.check(body)
        parse = PARSERS.get(operation_id)
        if parse is not None:
            request = self._parse(parse, operation_id, call.raw, body)
            if not isinstance(request, GenerationRequest):
                return Answer(200, service.reload_model(call, request))
            if request.webhook and self.url_policy is not None:
                self.url_policy.check(request.webhook, field="webhook")
            service.check(call, request)
            request = self._load_inputs(call, request)
            view = service.submit(call, request)
            status = view.error_status if view.state == FAILED else 200
            return Answer(status, self.answers.answer(view))
        if operation_id in self._fetches:
            fetch = parse_fetch(body, path_id=params.get("id") if params else None, spec=self.spec)
            return Answer(200, self.answers.answer(service.fetch(call, fetch)))
        values, problems = self.spec.validator(operation_id).validate(body)
        if problems:
            raise ValidationError(problems)
        status, payload = service.operation(call, values)
        return Answer(status, payload)

    def _parse(self, parse: Callable[[Any, Spec], Any], operation_id: str, raw: bytes, body: Any) -> Any:
        """The typed request of ``body``, validated against the spec.

        A parser is a pure function of the body, and its request is frozen, so the same
        bytes sent again (a load test, a client's retry) reuse the request of the first:
        a body up to :data:`PARSED_BODY_BYTES`, the last :data:`PARSED_BODIES` of them.
        A body that fails validation is never kept, and is refused again each time.
        """
        if len(raw) > PARSED_BODY_BYTES:
            return parse(body, self.spec)
        key = (operation_id, raw)
        request = self._parsed.get(key)
        if request is None:
            request = parse(body, self.spec)
            if len(self._parsed) >= PARSED_BODIES:
                self._parsed.clear()
            self._parsed[key] = request
        return request

    def _load_inputs(self, call: Call, request: GenerationRequest) -> GenerationRequest:
        """Load the request's input images onto ``call.inputs``; the request sized as its init image.

        Every input-image field of the operation (``x-t2i-image``: ``init_image``,
        ``mask_image``, ``ip_adapter_image``) is fetched or decoded here, once, under the
        URL policy of this process and within the field's limits; the bytes as sent go
        on ``call.input_data`` for the service to store with the job.
        """
        fields = self._image_fields.get(call.operation_id)
        if fields is None:
            fields = self.spec.input_image_fields(call.operation_id)
        values = {name: getattr(request, name) for name in fields if getattr(request, name, None) is not None}
        if not values:
            return request
        limits = {name: self.spec.input_image_limits(call.operation_id, name) for name in values}
        fetched = [name for name, value in values.items() if is_fetched(value)]
        with contextlib.ExitStack() as shares:
            if fetched:  # one client's slow image URLs hold at most its share of the request threads
                shares.enter_context(self.fetch_shares.hold(client_share(request.key), field=fetched[0],
                                                            what="this API key"))
            loaded = load_input_images(values, policy=self.url_policy or UrlPolicy(), limits=limits,
                                       mask=("mask_image", "init_image"), gate=self._address_gate(fetched[:1]))
        call.inputs = {name: item.image for name, item in loaded.items()}
        call.input_data = {name: item.data for name, item in loaded.items()}
        if "init_image" not in loaded:
            return request
        width, height = loaded["init_image"].image.size
        return dataclasses.replace(request, width=width, height=height)

    def _address_gate(self, fields: list[str]) -> Any:
        """The share of one address (as resolved) that each input-image fetch holds while it runs."""
        field = fields[0] if fields else "init_image"

        def gate(target: Any) -> Any:
            return self.address_shares.hold(f"address:{target.addresses[0]}", field=field,
                                            what=f"the address {target.addresses[0]}")

        return gate

    def _unimplemented(self, operation_id: str) -> NotFound:
        """The document's not-implemented signal (x-t2i-wire), which clients read with the same object."""
        signal = self._signal
        error = NotFound(signal.message(operation_id), field="", value=operation_id, rule=signal.rule)
        error.status = signal.status
        return error

    def _force(self, operation_id: str, code: int) -> None:
        if code not in self._statuses[operation_id]:
            raise RequestRejected("Prefer", "prefer",
                                  f"Prefer code={code} is not a documented answer of {operation_id}", code)
        raise ForcedError(code, self.retry_after)


def install(app: Flask, pipeline: Pipeline) -> None:
    """Route every operation of the spec through ``pipeline``, and install the one error handler."""
    app.extensions.setdefault(PIPELINE_EXTENSION, pipeline)  # the first contract installed is the app's own
    app.extensions.setdefault(PIPELINES_EXTENSION, []).append(pipeline)  # every contract the app serves

    def view_for(route: Route) -> Callable[..., Response]:
        def view(**params: str) -> Response:
            return pipeline.handle(route.operation_id, request.environ, params).to_response()

        view.__name__ = f"t2i_{route.operation_id}"
        return view

    for route in pipeline.routes:
        app.add_url_rule(route.rule, endpoint=f"t2i_{route.operation_id}", view_func=view_for(route),
                         methods=[route.method])

    @app.errorhandler(Exception)
    def handle_error(exc: Exception) -> Response:
        status, body, headers = error_answer(exc, request.method, request.path)
        return Answer(status, body, headers).to_response()
