"""The suite's scenarios for img2img, inpaint and model_reload.

:func:`run_image_operations` starts the suite's image server
(:class:`~contract_tests.inputs.InputImageServer`, on the webhook host) and, for
each of img2img and inpaint the spec has:

1. probes the operation with one cheap valid body. A 404 naming the operation
   (or no route for it) fails ``implemented`` and nothing more is sent to it.
   With ``--input-images auto``, a 4xx naming an input field (the server's URL
   policy refusing loopback, or a server that cannot reach the suite) switches
   the run to base64 inputs, and the report says so;
2. sends the edge bodies and generated valid bodies, judged as text2img's are
   (``valid_accepted``, ``sample_count``, ``meta_echo``, ``lifecycle`` when
   processing) and by ``img2img_size`` and, for inpaint, ``inpaint_preserves``;
3. one body with ``Prefer: status=processing`` for the lifecycle through fetch; the five
   probes of :mod:`contract_tests.image_promises` (``determinism``, ``init_image_used``,
   ``strength_matters``); a webhook probe (:mod:`contract_tests.webhooks`); with ``--key``, a wrong key and no key (``auth``);
4. every rule broken once, generated invalid bodies and malformed bodies
   (``invalid_rejected``);
5. ``input_refused``: each input field as a missing URL, a URL whose bytes are
   not an image, a URL where nothing listens, base64 that is not an image and,
   for a mask, an image of another size.

Then ``model_reload``: a reload of the run's model (answer ``success``, or
``processing`` and ``success`` on a later call), the same with the processing
preference, a wrong key and no key (``auth``, with ``--key``), and bodies breaking
its rules (``invalid_rejected``, ``invalid_named``).
"""
from __future__ import annotations

import base64
import time
from typing import Any

from t2i_contract.spec import Spec, SpecError
from t2i_contract.wire.contract import wire_of

from . import checks
from .client import Exchange
from .engine import Engine, Outcome
from .generation import (
    MALFORMED_BODIES,
    draw,
    edge_bodies,
    input_fields,
    invalid_bodies,
    is_valid,
    labelled_invalid_bodies,
    valid_bodies,
)
from .image_promises import image_promises
from .inputs import NOT_AN_IMAGE, InputImages, InputImageServer, closed_port_url
from .recording import Recorder
from .scenarios import INVALID_FEEDS, VALID_FEEDS, key_refusals
from .values import rule_breakers
from .webhooks import documents_webhook, webhook_promise

__all__ = ["GENERATION_OPERATIONS", "RELOAD_OPERATION", "refuses_input", "run_image_operations", "unimplemented"]

GENERATION_OPERATIONS = ("img2img", "inpaint")
RELOAD_OPERATION = "modelReload"


def unimplemented(exchange: Exchange, operation: str, spec: Spec) -> bool:
    """Is this the contract's "not implemented" signal for ``operation`` (not, say, an unknown model)?

    The signal is the wire's (``x-t2i-wire``, :class:`~t2i_contract.wire.contract.NotImplementedSignal`):
    its status with its ``errors[].rule`` or the operation named in the message; a 404 or 405
    without the contract's error body counts too.
    """
    body = exchange.json if isinstance(exchange.json, dict) else None
    return wire_of(spec).not_implemented.is_shown_by(exchange.status, body, operation)


def _has(engine: Engine, operation: str) -> bool:
    try:
        engine.spec.operation(operation)
    except SpecError:
        return False
    return True


class _ImageOperations:
    def __init__(self, engine: Engine, recorder: Recorder, server: InputImageServer) -> None:
        self.run, self.recorder, self.server = engine, recorder, server
        form = engine.settings.input_images
        self.images: InputImages = server.images.as_form("base64" if form == "base64" else "url")
        self.init = self.images.rgba("init.png")
        self.mask = self.images.mask()

    # -- helpers -------------------------------------------------------------------
    def inputs(self, operation: str) -> dict[str, str]:
        return self.images.fields(operation, input_fields(self.run.spec, operation))

    def probe_body(self, operation: str, **fields: Any) -> dict[str, Any]:
        body = self.run.probe_body(**self.inputs(operation)) | fields
        return {k: v for k, v in body.items() if k in {f.name for f in self.run.spec.request_fields(operation)}}

    def evaluate(self, body: dict[str, Any], operation: str, headers: dict[str, str] | None = None) -> Outcome:
        return self.run.evaluate_valid(body, headers=headers, operation=operation, inputs=self.pixels(operation))

    def served_from(self) -> str:
        """Context for a failure whose body names the suite's image URLs, which end with the run."""
        if self.images.form != "url":
            return ""
        return (f"input images came from the suite's image server at {self.server.url}, gone after the run; "
                "--input-images base64 makes the reproducer self-contained")

    def missing(self, operation: str, exchange: Exchange) -> bool:
        """Fail ``implemented`` (and say so) when ``exchange`` shows the server lacks ``operation``."""
        route = self.run.spec.operation(operation)[0]
        out = Outcome()
        implemented = not unimplemented(exchange, operation, self.run.spec)
        out.judge("implemented", [] if implemented else [
            f"the server does not implement {operation} ({route}); nothing more was sent to it"], exchange)
        self.recorder.record(out)
        if not implemented:
            self.recorder.note(f"{operation}: not implemented by the server, its checks were not run")
        return not implemented

    def available(self, operation: str) -> bool:
        """Probe ``operation``; switch to base64 inputs when the server refuses the suite's URLs (auto)."""
        out = Outcome()
        exchange = self.run.send(self.probe_body(operation, prompt="probe"), out, operation=operation)
        self.recorder.record(out)
        if self.missing(operation, exchange):
            return False
        refused = refuses_input(exchange, input_fields(self.run.spec, operation))
        if refused and self.images.form == "url" and self.run.settings.input_images == "auto":
            self.images = self.images.as_form("base64")
            self.recorder.note(
                f"{operation} refused the suite's image URL ({exchange.response_summary()[:200]}); input images "
                "are sent as base64 from here on (--input-images url to insist, --webhook-host to move the server)")
        return True

    # -- the scenarios ---------------------------------------------------------------
    def generation(self, operation: str) -> None:
        run, settings = self.run, self.run.settings
        if not self.available(operation):
            return
        inputs = self.inputs(operation)
        common = {"model_id": run.model_id, "key": run.key, "operation": operation, "inputs": inputs}
        bodies = edge_bodies(run.spec, profile=settings.profile, loras=settings.loras, **common) \
            if run.feeds(VALID_FEEDS) else []
        bodies += draw(valid_bodies(run.spec, profile=settings.profile, loras=settings.loras, **common),
                       settings.max_examples, seed=run.seed) if bodies else []
        retry = lambda b: self.evaluate(b, operation)  # noqa: E731 - the minimiser's retry
        for body, out in run.evaluated(retry, bodies):  # --workers at a time, recorded in order
            self.recorder.record(out, retry=retry, body=body, operation=operation, context=self.served_from())
        if run.runs("lifecycle"):
            body = self.probe_body(operation, prompt="lifecycle probe", samples=2)
            self.recorder.record(self.evaluate(body, operation, {"Prefer": run.processing}),
                                 context="; ".join(filter(None, [f"{operation} requested with the header Prefer: "
                                                                 f"{run.processing}", self.served_from()])))
        if any(run.runs(check) for check in ("determinism", "init_image_used", "strength_matters")):
            self.promises(operation)
        if run.runs("webhook") and documents_webhook(run, operation):
            webhook_promise(run, self.recorder, operation, self.probe_body(operation, prompt="webhook probe"),
                            self.pixels(operation), self.served_from())
        if run.settings.key is not None and run.runs("auth"):
            key_refusals(run, self.recorder, operation, self.probe_body(operation, prompt="auth probe"),
                         self.served_from())
        invalid: list[tuple[str | None, Any]] = []
        if run.feeds(INVALID_FEEDS):
            invalid += labelled_invalid_bodies(run.spec, **common)
            invalid += [(None, body) for body in draw(invalid_bodies(run.spec, **common), settings.max_examples,
                                                      seed=run.seed)]
            invalid += [(None, body) for body in MALFORMED_BODIES]
        reject = lambda b: run.evaluate_invalid(b, operation)  # noqa: E731 - the minimiser's retry
        for (_, body), out in run.evaluated(lambda pair: run.evaluate_invalid(pair[1], operation, pair[0]), invalid):
            self.recorder.record(out, retry=reject, body=body, operation=operation)
        if run.runs("input_refused"):
            self.refusals(operation)

    def pixels(self, operation: str) -> dict[str, tuple[tuple[int, int], bytes]]:
        """The input images ``operation`` is sent, decoded (what the result checks compare with)."""
        return {"init_image": self.init, "mask_image": self.mask} if operation == "inpaint" else \
            {"init_image": self.init}

    def promises(self, operation: str) -> None:
        """determinism, init_image_used and strength_matters (:mod:`contract_tests.image_promises`)."""
        mask = {"mask_image": self.mask} if operation == "inpaint" else {}
        inputs = {"A": {"init_image": self.init} | mask, "B": {"init_image": self.images.rgba("init-b.png")} | mask}
        values = {"A": self.images.value("init.png"), "B": self.images.value("init-b.png")}
        image_promises(self.run, self.recorder, operation, lambda **fields: self.probe_body(operation, **fields),
                       inputs, values, self.served_from())

    def refusals(self, operation: str) -> None:
        not_image = "data:image/png;base64," + base64.b64encode(NOT_AN_IMAGE).decode("ascii")
        cases = [("base64 that is not an image", not_image)]
        if self.images.form == "url":
            cases += [("a URL that answers 404", f"{self.server.url}/missing.png"),
                      ("a URL whose bytes are not an image", f"{self.server.url}/not-an-image.png"),
                      ("a URL where nothing listens", closed_port_url(self.run.settings.webhook_host))]
        for field in input_fields(self.run.spec, operation):
            field_cases = list(cases)
            if field == "mask_image":
                field_cases.append(("a mask of another size than init_image", self.images.value("other-size.png")))
            for what, value in field_cases:
                out = Outcome()
                exchange = self.run.send(self.probe_body(operation, **{field: value}), out, operation=operation)
                out.judge("input_refused", checks.input_refused(exchange, field), exchange)
                self.recorder.record(out, context=f"{operation} with {field} {what}")

    def model_reload(self) -> None:
        run = self.run
        body = {"key": run.key, "model_id": run.model_id}
        for headers in (None, {"Prefer": run.processing}):
            out = Outcome()
            exchange = run.send(body, out, headers, RELOAD_OPERATION)
            if headers is None and self.missing(RELOAD_OPERATION, exchange):
                self.recorder.record(out)
                return
            out.judge("model_reload", checks.model_reload(exchange), exchange)
            if exchange.branch == "processing" and exchange.status == 200:
                out.judge("model_reload", self.reload_finishes(body, exchange, out), exchange)
            self.recorder.record(out, context="" if headers is None else f"requested with Prefer: {run.processing}")
        if run.settings.key is not None and run.runs("auth"):
            key_refusals(run, self.recorder, RELOAD_OPERATION, body)
        props = {item.name: item.schema for item in run.spec.request_fields(RELOAD_OPERATION)}
        invalid: list[tuple[str | None, Any]] = [(name, {k: v for k, v in body.items() if k != name})
                                                 for name in body]
        invalid += [(name, body | {name: value}) for name, schema in props.items() for value in rule_breakers(schema)]
        for field, broken in invalid + [(None, malformed) for malformed in MALFORMED_BODIES]:
            if isinstance(broken, dict) and is_valid(broken, run.spec, RELOAD_OPERATION):
                continue
            self.recorder.record(run.evaluate_invalid(broken, RELOAD_OPERATION, field), context="model_reload")

    def reload_finishes(self, body: dict[str, Any], first: Exchange, out: Outcome) -> list[str]:
        """Call model_reload again until it is no longer processing, within its eta plus the fetch margin."""
        eta = first.json.get("eta")
        eta = float(eta) if isinstance(eta, (int, float)) and not isinstance(eta, bool) else 1.0
        deadline = time.monotonic() + eta + self.run.settings.fetch_margin
        while True:
            time.sleep(min(max(eta / 5, 0.1), 2.0))  # the server's own eta paces the calls, as fetch's does
            again = self.run.send(body, out, operation=RELOAD_OPERATION)
            if again.branch != "processing":
                return [f"a later call: {p}" for p in checks.model_reload(again)]
            if time.monotonic() > deadline:
                return [f"still processing after eta {eta:g}s + {self.run.settings.fetch_margin:g}s margin"]


def refuses_input(exchange: Exchange, fields: list[str]) -> bool:
    """Is this a 4xx whose errors name one of the input-image ``fields`` (unreachable, refused by policy, ...)?"""
    if not 400 <= exchange.status < 500 or not isinstance(exchange.json, dict):
        return False
    errors = exchange.json.get("errors")
    return isinstance(errors, list) and any(isinstance(e, dict) and e.get("field") in fields for e in errors)


def run_image_operations(engine: Engine, recorder: Recorder) -> None:
    """Every scenario above, against ``engine``'s server (see the module docstring)."""
    with InputImageServer(engine.settings.webhook_host) as server:
        operations = _ImageOperations(engine, recorder, server)
        for operation in GENERATION_OPERATIONS:
            if _has(engine, operation) and engine.tests(operation):
                operations.generation(operation)
        if _has(engine, RELOAD_OPERATION) and engine.tests(RELOAD_OPERATION) and engine.runs("model_reload"):
            operations.model_reload()
