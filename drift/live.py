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
from t2i_contract.spec import Spec, SpecError, escape_pointer, load_spec, parse_text2img

from .errors import DocumentError, UpstreamError
from .findings import Finding
from .observe import Observer
from .settings import DriftSettings

__all__ = ["DriftSettings", "run_drift"]


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
    def generate(self, body: dict[str, Any]) -> None:
        exchange = self.client.text2img(body)
        if not self.see(exchange):
            return
        for problem in checks.valid_accepted(exchange):
            self.observer.problem("valid-request-rejected", f"{self.text2img}/requestBody", problem,
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
        if result.branch == "success" and 200 <= result.status < 300:
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

    def reject_expected(self, body: Any) -> None:
        exchange = self.client.text2img(body)
        if not self.see(exchange):
            return
        for problem in checks.invalid_rejected(exchange):
            self.observer.problem("invalid-request-accepted", f"{self.text2img}/requestBody", problem,
                                  group=str(exchange.branch))


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
    try:
        for body in valid[:valid_count]:
            run.generate(body)
        for body in invalid:
            run.reject_expected(body)
    finally:
        run.client.close()
    return run.observer.findings()
