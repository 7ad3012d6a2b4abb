"""``t2i drift``: send generated requests to a live server and report how it departs from the spec.

:func:`run_drift` sends ``samples`` requests: first a probe with only the
required fields (so every default is exercised), then bodies drawn from
``contract_tests.generation`` (mostly valid, some invalid). It talks to the
server with the contract suite's own client, polling, image loading and checks
(:mod:`contract_tests`), and feeds every answer to an
:class:`~drift.observe.Observer`, which tallies how the answers depart from the
documented responses. On top of that, the suite's verdicts become findings:

* ``default-not-applied``: a field the request omitted is echoed in ``meta``
  with another value than the spec's default, or the images disagree with the
  default ``samples``, ``width`` or ``height`` (``checks.default_departures``);
* ``valid-request-rejected`` / ``invalid-request-accepted`` (``valid_accepted``,
  ``invalid_rejected``);
* ``generation-never-finished`` (polling gave up), ``request-failed`` (no
  answer, a 5xx, a body that is not JSON, a polling or image problem).

Then img2img and inpaint, each with a share of the bodies (a quarter of
``samples``, at least a probe and one generated body), their input images served
by the contract suite's image server on 127.0.0.1 or, when the server refuses or
cannot reach that URL, sent as base64; and model_reload, once with a valid body
and once without ``model_id``. Each operation's answers are observed against its
own responses and its findings point into its own path; an operation the server
answers with a 404 naming it is one ``valid-request-rejected`` finding saying so.
"""
from __future__ import annotations

from typing import Any

from t2i_contract.contract_tests import (
    DEFAULT_KEY,
    DEFAULT_MAX_RETRY_WAIT,
    DEFAULT_RETRIES,
    NO_JSON,
    Client,
    Exchange,
    checks,
    draw,
    follow,
    invalid_bodies,
    load_outputs,
    minimal_body,
    valid_bodies,
)
from t2i_contract.contract_tests.generation import default_model_id, input_fields
from t2i_contract.contract_tests.inputs import InputImages, InputImageServer
from t2i_contract.contract_tests.operations import GENERATION_OPERATIONS, RELOAD_OPERATION, refuses_input, \
    unimplemented
from t2i_contract.spec import Spec, SpecError, escape_pointer, load_spec, parse_text2img

from .errors import DocumentError, UpstreamError
from .findings import Finding
from .observe import Observer
from .settings import DriftSettings

__all__ = ["OPERATION_SHARE", "DriftSettings", "run_drift"]

OPERATION_SHARE = 4  # img2img and inpaint each get 1/OPERATION_SHARE of the bodies text2img gets


class _Run:
    """The state of one drift run: the suite's client, the observer, and where findings point."""

    def __init__(self, settings: DriftSettings, spec: Spec) -> None:
        self.settings = settings
        self.spec = spec
        self.observer = Observer(spec)
        self.key = settings.key or DEFAULT_KEY
        self.client = Client(spec, settings.base_url, key=self.key, timeout=settings.timeout,
                             retries=DEFAULT_RETRIES, max_retry_wait=DEFAULT_MAX_RETRY_WAIT)
        self.images_checked = 0
        self.reached = False  # until a first answer comes, silence means the server is not there
        self.text2img = spec.responses.operation_pointer("text2img")
        self.fields = f"{spec.responses.json_schema(f'{self.text2img}/requestBody')}/properties"
        self.operations = {operation_id for operation_id, _, _, _ in spec.operations()}

    # -- what the client saw, to the observer ------------------------------
    def see(self, exchange: Exchange) -> bool:
        """Record one answer; False when there is nothing to go on (no answer, not JSON)."""
        pointer = self.spec.responses.operation_pointer(exchange.operation or "text2img")
        route = self.spec.operation(exchange.operation or "text2img")[0]
        label = f"{exchange.method} {route}"
        if not exchange.answered and not self.reached:
            raise UpstreamError(f"cannot reach {self.settings.base_url}: {exchange.error}", self.settings.base_url)
        self.reached = True
        for problem in checks.no_server_error(exchange):
            self.observer.problem("request-failed", pointer, f"{label}: {problem}")
        if not exchange.answered:
            return False
        if exchange.json is NO_JSON:
            self.observer.problem("request-failed", pointer,
                                  f"{label} answered HTTP {exchange.status} with a body that is not JSON: "
                                  f"{exchange.text[:80]!r}")
            return False
        self.observer.record(pointer, exchange.status, exchange.json, label)
        return True

    # -- one generation --------------------------------------------------
    def generate(self, body: dict[str, Any], operation: str = "text2img") -> None:
        exchange = self.client.post(operation, self.client.url_for(operation), body=body)
        if not self.see(exchange):
            return
        for problem in checks.valid_accepted(exchange):
            self.observer.problem("valid-request-rejected",
                                  f"{self.spec.responses.operation_pointer(operation)}/requestBody", problem,
                                  group=str(exchange.status))
        result = exchange
        if exchange.branch == "processing" and 200 <= exchange.status < 300:
            polled = follow(self.client, exchange, margin=self.settings.max_wait, on_answer=self.see)
            for index, (problem, poll) in enumerate(polled.problems, start=1):
                ended = polled.timed_out and index == len(polled.problems)
                rule = "generation-never-finished" if ended else "request-failed"
                self.observer.problem(rule, self.spec.responses.operation_pointer(poll.operation or "fetch"),
                                      problem)
            if polled.result is None:
                return
            result = polled.result
        if result.branch == "success" and 200 <= result.status < 300 and operation == "text2img":
            self.check_defaults(body, result.json)

    def check_defaults(self, body: dict[str, Any], result: dict[str, Any]) -> None:
        request = parse_text2img(body, self.spec)
        omits_size = "width" not in body or "height" not in body
        images = []
        if omits_size and self.images_checked < self.settings.image_checks:
            self.images_checked += 1
            images = load_outputs(self.client, result.get("output"), as_base64=request.base64)
        for name, problem in checks.default_departures(self.spec, body, request, result, images):
            if name == "output":
                self.observer.problem("request-failed", self.text2img, f"could not read an image: {problem}")
            else:
                self.observer.problem("default-not-applied", f"{self.fields}/{escape_pointer(name)}/default",
                                      f"{name}: omitted, so the spec's default applies, but {problem}")

    def reject_expected(self, body: Any, operation: str = "text2img") -> None:
        exchange = self.client.post(operation, self.client.url_for(operation), body=body)
        if not self.see(exchange):
            return
        for problem in checks.invalid_rejected(exchange):
            self.observer.problem("invalid-request-accepted",
                                  f"{self.spec.responses.operation_pointer(operation)}/requestBody", problem,
                                  group=str(exchange.branch))

    # -- the other operations --------------------------------------------
    def served(self, operation: str, body: dict[str, Any]) -> Exchange | None:
        """Probe ``operation``; None (and a finding saying so) when the server does not implement it."""
        exchange = self.client.post(operation, self.client.url_for(operation), body=body)
        route = self.spec.operation(operation)[0]
        if not unimplemented(exchange, operation, route):
            return exchange
        self.observer.problem("valid-request-rejected", f"{self.spec.responses.operation_pointer(operation)}",
                              f"POST {route}: the server does not implement {operation} "
                              f"({exchange.response_summary()[:160]})")
        return None

    def image_operation(self, operation: str, images: InputImages, settings: DriftSettings,
                        valid_count: int, invalid_count: int) -> InputImages:
        """Drift of img2img or inpaint; the input form the server took (base64 once it refused a URL)."""
        fields = input_fields(self.spec, operation)
        probe = minimal_body(self.spec, model_id=settings.model_id, key=self.key, operation=operation,
                             inputs=images.fields(operation, fields))
        first = self.served(operation, probe)
        if first is None:
            return images
        if images.form == "url" and refuses_input(first, fields):
            images = images.as_form("base64")
        inputs = images.fields(operation, fields)
        common = {"model_id": settings.model_id, "key": self.key, "operation": operation, "inputs": inputs}
        valid = draw(valid_bodies(self.spec, profile=settings.profile, loras=settings.loras, **common),
                     max(valid_count - 1, 1), seed=settings.seed)
        for body in [probe | inputs] + valid:
            self.generate(body, operation)
        for body in draw(invalid_bodies(self.spec, **common), invalid_count, seed=settings.seed) \
                if invalid_count else []:
            self.reject_expected(body, operation)
        return images

    def model_reload(self, settings: DriftSettings) -> None:
        body = {"key": self.key, "model_id": settings.model_id or default_model_id(self.spec)}
        exchange = self.served(RELOAD_OPERATION, body)
        if exchange is None or not self.see(exchange):
            return
        for problem in checks.model_reload(exchange):
            self.observer.problem("valid-request-rejected",
                                  f"{self.spec.responses.operation_pointer(RELOAD_OPERATION)}/requestBody", problem)
        self.reject_expected({"key": self.key}, RELOAD_OPERATION)


def run_drift(settings: DriftSettings) -> list[Finding]:
    """Run the requests and return every finding (see the module docstring)."""
    try:
        spec = load_spec(settings.spec_path)
    except SpecError as exc:
        raise DocumentError(str(exc), str(settings.spec_path)) from None
    run = _Run(settings, spec)
    invalid_count = round(settings.samples * settings.invalid_ratio)
    valid_count = settings.samples - invalid_count
    probe = minimal_body(spec, model_id=settings.model_id, key=run.key)
    valid = [probe] + draw(valid_bodies(spec, profile=settings.profile, model_id=settings.model_id,
                                        loras=settings.loras, key=run.key), max(valid_count - 1, 0),
                           seed=settings.seed)
    invalid = draw(invalid_bodies(spec, model_id=settings.model_id, key=run.key), invalid_count,
                   seed=settings.seed) if invalid_count else []
    operations = [op for op in GENERATION_OPERATIONS if op in run.operations]
    try:
        for body in valid[:valid_count]:
            run.generate(body)
        for body in invalid:
            run.reject_expected(body)
        with InputImageServer() as server:
            images = server.images
            for operation in operations:
                images = run.image_operation(operation, images, settings, max(valid_count // OPERATION_SHARE, 2),
                                             round(invalid_count / OPERATION_SHARE))
        if RELOAD_OPERATION in run.operations:
            run.model_reload(settings)
    finally:
        run.client.close()
    return run.observer.findings()
