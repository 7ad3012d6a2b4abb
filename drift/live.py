"""``t2i drift``: send generated requests to a live server and report how it departs from the spec.

:func:`run_drift` sends ``samples`` requests: first a probe with only the
required fields (so every default is exercised), then bodies drawn from
``contract_tests.generation`` (mostly valid, some invalid). It talks to the
server through the contract suite's scenario engine
(:class:`~contract_tests.engine.Engine`: its client, polling, image loading and
checks), which hands every answer to an :class:`~drift.observe.Observer` that
tallies how the answers depart from the documented responses. On top of that,
the engine's outcomes (the suite's verdicts) become findings. Its bodies name
one model, chosen up front as ``t2i test`` chooses it (``contract_tests.models``:
``--model-id``, else one the server lists at ``GET /models``).

The findings:

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

import dataclasses
from typing import Any

from t2i_contract.contract_tests import NO_JSON, Exchange, checks, draw, invalid_bodies, minimal_body, valid_bodies
from t2i_contract.contract_tests.engine import Engine, Outcome
from t2i_contract.contract_tests.generation import input_fields
from t2i_contract.contract_tests.models import NoModelListed, choose_model
from t2i_contract.contract_tests.inputs import InputImages, InputImageServer
from t2i_contract.contract_tests.operations import GENERATION_OPERATIONS, RELOAD_OPERATION, refuses_input, \
    unimplemented
from t2i_contract.contract_tests.progress import Progress
from t2i_contract.contract_tests.recording import Stopped
from t2i_contract.contract_tests.settings import Settings
from t2i_contract.contract_tests.packs import is_pack
from t2i_contract.spec import Spec, SpecError, escape_pointer, load_spec, parse_text2img
from t2i_contract.spec.packs import load_contract

from .errors import DocumentError, DriftError, unreachable
from .findings import Finding
from .observe import DRIFT_RULES, Observer
from .packs import run_pack_drift
from .settings import DriftSettings

__all__ = ["OPERATION_SHARE", "DriftSettings", "run_drift"]

OPERATION_SHARE = 4  # img2img and inpaint each get 1/OPERATION_SHARE of the bodies text2img gets


def engine_settings(settings: DriftSettings) -> Settings:
    """The engine's settings for a drift run: drift follows a generation for ``max_wait`` seconds."""
    return Settings(base_url=settings.base_url, key=settings.key, model_id=settings.model_id, loras=settings.loras,
                    profile=settings.profile, timeout=settings.timeout, fetch_margin=settings.max_wait,
                    seed=settings.seed, spec_path=settings.spec_path, operations=settings.operations,
                    rate_limit=settings.rate_limit, record=settings.record)


class _Findings:
    """Turns the engine's answers and outcomes into the observer's findings, pointing into each operation."""

    def __init__(self, settings: DriftSettings, spec: Spec) -> None:
        self.settings, self.spec = settings, spec
        self.observer = Observer(spec)
        self.images_checked = 0
        self.errors = 0  # error-level problems so far (--max-failures)
        self.reached = False  # until a first answer comes, silence means the server is not there
        self.text2img = spec.responses.operation_pointer("text2img")
        self.fields = f"{spec.responses.json_schema(f'{self.text2img}/requestBody')}/properties"

    def problem(self, rule: str, path: str, message: str, group: str | None = None) -> None:
        """One problem to the observer; ``--max-failures`` error-level ones stop the run."""
        self.observer.problem(rule, path, message, group)
        self.errors += DRIFT_RULES[rule].level == "error"
        if self.settings.max_failures is not None and self.errors >= self.settings.max_failures:
            raise Stopped(self.errors)

    def pointer(self, operation: str | None) -> str:
        return self.spec.responses.operation_pointer(operation or "text2img")

    # -- every answer, as it comes (the engine's observe hook) --------------------------
    def see(self, exchange: Exchange) -> None:
        """Record one answer (no answer and a body that is not JSON are request-failed)."""
        label = f"{exchange.method} {self.spec.operation(exchange.operation or 'text2img')[0]}"
        if not exchange.answered and not self.reached:
            raise unreachable(self.settings.base_url, exchange.error)
        self.reached = True
        for problem in checks.no_server_error(exchange):
            self.problem("request-failed", self.pointer(exchange.operation), f"{label}: {problem}")
        if not exchange.answered:
            return
        if exchange.json is NO_JSON:
            self.problem("request-failed", self.pointer(exchange.operation),
                                  f"{label} answered HTTP {exchange.status} with a body that is not JSON: "
                                  f"{exchange.text[:80]!r}")
            return
        self.observer.record(self.pointer(exchange.operation), exchange.status, exchange.json, label)

    def wants_images(self, operation: str, body: dict[str, Any]) -> bool:
        """Images are downloaded for text2img bodies that omit the size, ``--image-checks`` of them at most."""
        if operation != "text2img" or ("width" in body and "height" in body):
            return False
        if self.images_checked >= self.settings.image_checks:
            return False
        self.images_checked += 1
        return True

    # -- outcomes ----------------------------------------------------------------------
    def generated(self, body: dict[str, Any], out: Outcome, operation: str) -> None:
        exchange = out.exchange
        if exchange is None or not exchange.answered or exchange.json is NO_JSON:
            return
        for problem, _ in out.found.get("valid_accepted", []):
            self.problem("valid-request-rejected", f"{self.pointer(operation)}/requestBody", problem,
                                  group=str(exchange.status))
        polled = out.polled
        if polled is not None:
            for index, (problem, poll) in enumerate(polled.problems, start=1):
                ended = polled.timed_out and index == len(polled.problems)
                self.problem("generation-never-finished" if ended else "request-failed",
                                      self.pointer(poll.operation or "fetch"), problem)
        if out.result is not None and operation == "text2img":
            self.defaults(body, out)

    def defaults(self, body: dict[str, Any], out: Outcome) -> None:
        assert out.result is not None
        request = parse_text2img(body, self.spec)
        for name, problem in checks.default_departures(self.spec, body, request, out.result, out.images):
            if name == "output":
                self.problem("request-failed", self.text2img, f"could not read an image: {problem}")
            else:
                self.problem("default-not-applied", f"{self.fields}/{escape_pointer(name)}/default",
                                      f"{name}: omitted, so the spec's default applies, but {problem}")

    def rejected(self, out: Outcome, operation: str) -> None:
        exchange = out.exchange
        if exchange is None or not exchange.answered or exchange.json is NO_JSON:
            return
        for problem, _ in out.found.get("invalid_rejected", []):
            self.problem("invalid-request-accepted", f"{self.pointer(operation)}/requestBody", problem,
                                  group=str(exchange.word))

    def unserved(self, operation: str, exchange: Exchange) -> bool:
        """A 404 naming ``operation``: one finding saying the server does not implement it."""
        route = self.spec.operation(operation)[0]
        if not unimplemented(exchange, operation, self.spec):
            return False
        self.problem("valid-request-rejected", self.pointer(operation),
                              f"POST {route}: the server does not implement {operation} "
                              f"({exchange.response_summary()[:160]})")
        return True


def _image_operation(engine: Engine, found: _Findings, operation: str, images: InputImages,
                     valid_count: int, invalid_count: int) -> InputImages:
    """Drift of img2img or inpaint; the input form the server took (base64 once it refused a URL)."""
    settings, spec = found.settings, engine.spec
    fields = input_fields(spec, operation)
    probe = minimal_body(spec, model_id=settings.model_id, key=engine.key, operation=operation,
                         inputs=images.fields(operation, fields))
    first = engine.send(probe, Outcome(), operation=operation)
    if found.unserved(operation, first):
        return images
    if images.form == "url" and refuses_input(first, fields):
        images = images.as_form("base64")
    inputs = images.fields(operation, fields)
    common = {"model_id": settings.model_id, "key": engine.key, "operation": operation, "inputs": inputs}
    valid = draw(valid_bodies(spec, profile=settings.profile, loras=settings.loras, **common),
                 max(valid_count - 1, 1), seed=settings.seed)
    for body in [probe | inputs] + valid:
        found.generated(body, engine.evaluate_valid(body, operation=operation), operation)
    for body in draw(invalid_bodies(spec, **common), invalid_count, seed=settings.seed) if invalid_count else []:
        found.rejected(engine.evaluate_invalid(body, operation), operation)
    return images


def _model_reload(engine: Engine, found: _Findings) -> None:
    body = {"key": engine.key, "model_id": engine.model_id}
    exchange = engine.send(body, Outcome(), operation=RELOAD_OPERATION)
    if found.unserved(RELOAD_OPERATION, exchange) or not exchange.answered or exchange.json is NO_JSON:
        return
    for problem in checks.model_reload(exchange):
        found.problem("valid-request-rejected", f"{found.pointer(RELOAD_OPERATION)}/requestBody", problem)
    found.rejected(engine.evaluate_invalid({"key": engine.key}, RELOAD_OPERATION), RELOAD_OPERATION)


def run_drift(settings: DriftSettings) -> list[Finding]:
    """Run the requests and return every finding (see the module docstring)."""
    try:
        spec = load_contract(settings.contract) if settings.contract else load_spec(settings.spec_path)
    except SpecError as exc:
        raise DocumentError(str(exc), str(settings.contract or settings.spec_path)) from None
    if is_pack(spec):
        return run_pack_drift(settings, spec)
    try:  # one model for the run, from the server's own list unless --model-id names one (as t2i test does)
        model = choose_model(spec, settings.base_url, given=settings.model_id, timeout=settings.timeout)
    except NoModelListed as exc:
        raise DriftError(str(exc)) from None
    settings = dataclasses.replace(settings, model_id=model.model_id)
    found = _Findings(settings, spec)
    engine = Engine(engine_settings(settings), spec, settings.seed, observe=found.see,
                    wants_images=found.wants_images)
    progress = Progress("t2i drift") if settings.progress else None

    def step(what: str) -> None:
        if progress is not None:
            progress.step(what)

    def tick() -> None:
        if progress is not None:
            progress.tick(engine.client.sent, found.errors)

    step(f"model: {model.describe()}")
    invalid_count = round(settings.samples * settings.invalid_ratio)
    valid_count = settings.samples - invalid_count
    probe = minimal_body(spec, model_id=settings.model_id, key=engine.key)
    valid = [probe] + draw(valid_bodies(spec, profile=settings.profile, model_id=settings.model_id,
                                        loras=settings.loras, key=engine.key), max(valid_count - 1, 0),
                           seed=settings.seed)
    invalid = draw(invalid_bodies(spec, model_id=settings.model_id, key=engine.key), invalid_count,
                   seed=settings.seed) if invalid_count else []
    operations = {operation_id for operation_id, _, _, _ in spec.operations()}
    try:
        if engine.tests("text2img"):
            step(f"text2img: {valid_count} valid and {len(invalid)} invalid bodies")
            for body in valid[:valid_count]:
                found.generated(body, engine.evaluate_valid(body), "text2img")
                tick()
            for body in invalid:
                found.rejected(engine.evaluate_invalid(body), "text2img")
                tick()
        with InputImageServer() as server:
            images = server.images
            for operation in [op for op in GENERATION_OPERATIONS if op in operations and engine.tests(op)]:
                step(f"{operation}, with input images the suite serves")
                images = _image_operation(engine, found, operation, images, max(valid_count // OPERATION_SHARE, 2),
                                          round(invalid_count / OPERATION_SHARE))
                tick()
        if RELOAD_OPERATION in operations and engine.tests(RELOAD_OPERATION):
            step("model_reload")
            _model_reload(engine, found)
    except Stopped:
        step(f"stopped after {found.errors} error-level problem(s) (--max-failures {settings.max_failures})")
    finally:
        engine.close()
        if progress is not None:
            progress.done()
    findings = found.observer.findings()
    return [f for f in findings if f.rule in settings.checks] if settings.checks else findings
