"""One run of the contract suite: which requests are sent, and which checks judge them.

:func:`run_suite` sends, in order:

1. ``defaults``: a body of only the required fields;
2. generated valid bodies (the profile's edge bodies, then hypothesis draws):
   ``valid_accepted``, then ``sample_count``, ``image_size`` and ``meta_echo``
   on the result, fetching first when the answer was ``processing``;
3. every rule of every field broken once, generated invalid bodies, malformed
   bodies and fetches of unknown ids: ``invalid_rejected``;
4. ``determinism``: one body with a fixed seed twice, then with another seed;
5. ``lifecycle``: a body sent with ``Prefer: status=processing, eta=1`` (a
   server that ignores the header and answers at once leaves the check skipped
   unless another answer was ``processing``);
6. ``webhook``: a body whose ``webhook`` points at a receiver the suite runs;
7. ``auth``: when a key is configured, a wrong key;
8. img2img, inpaint and model_reload (:mod:`contract_tests.operations`): the
   same valid, invalid and processing bodies with input images the suite
   serves, judged also by ``img2img_size``, ``inpaint_preserves``,
   ``input_refused`` and ``model_reload``. An operation the server answers
   with a 404 naming it fails ``implemented`` and is not tested further
   (``--skip implemented`` tests only what the server has).

Generated bodies go ``--workers`` at a time; their outcomes are recorded in
order, so the report reads the same. Once one generation has run past its
eta and margin (a ``lifecycle`` failure), the suite follows no further
processing answer: a server whose jobs never finish costs one wait, not one
per request. Each check keeps the time measured on its behalf (the exchanges
it judged, the waits for fetch and webhook), which JUnit reports.

``conformance`` and ``no_server_error`` judge every answer. The first failure
of each single-request check is minimised: optional fields are dropped one at
a time while the same check still fails, so the curl reproducer is short.
"""
from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from t2i_contract.spec import GenerationRequest, Spec, load_spec, parse_request

from . import checks
from .client import Client, Exchange, wait_until_answering
from .errors import ServerUnreachable
from .generation import (
    CHEAP_FIELDS,
    MALFORMED_BODIES,
    default_model_id,
    draw,
    edge_bodies,
    invalid_bodies,
    invalid_edge_bodies,
    is_valid,
    minimal_body,
    valid_bodies,
)
from .images import LoadedImage, load_outputs
from .listener import WebhookReceiver
from .operations import run_image_operations
from .polling import follow
from .report import CHECKS, Report
from .settings import Settings

__all__ = ["run_suite"]

PROCESSING_PREFERENCE = "status=processing, eta=1"
MINIMISE_BUDGET = 20
UNKNOWN_ID = 4_000_000_000 + 12_345


@dataclass
class Outcome:
    """What the checks found about one request (and its fetches), before it is recorded."""

    found: dict[str, list[tuple[str, Exchange | None]]] = field(default_factory=lambda: defaultdict(list))
    exercised: Counter[str] = field(default_factory=Counter)
    result: dict[str, Any] | None = None
    images: list[LoadedImage] = field(default_factory=list)
    exchange: Exchange | None = None
    seconds: Counter[str] = field(default_factory=Counter)
    timed: set[tuple[str, int]] = field(default_factory=set)

    def judge(self, check: str, problems: list[str], exchange: Exchange | None) -> None:
        self.exercised[check] += 1
        self.found[check].extend((p, exchange) for p in problems)
        if exchange is not None and (check, id(exchange)) not in self.timed:
            self.timed.add((check, id(exchange)))
            self.seconds[check] += exchange.elapsed


class _Run:
    def __init__(self, settings: Settings, spec: Spec, report: Report, seed: int) -> None:
        self.settings, self.spec, self.report, self.seed = settings, spec, report, seed
        self.key = settings.request_key
        self.model_id = settings.model_id or default_model_id(spec)
        self.client = Client(spec, settings.base_url, key=self.key, timeout=settings.timeout,
                             retries=settings.retries, max_retry_wait=settings.max_retry_wait,
                             headers=dict(settings.headers))
        self.stalled = threading.Event()  # set once a generation ran past its eta and margin
        self.unfollowed = 0
        self.counting = threading.Lock()
        self.known_id: Any = None
        self.minimised: set[str] = set()
        self.valid_sent = self.valid_taken = 0
        self.refused_for_model: set[str] = set()  # "field=value" a server refused for the model, as the spec allows

    # -- building blocks -----------------------------------------------------------
    def body(self, **fields: Any) -> dict[str, Any]:
        return minimal_body(self.spec, model_id=self.model_id, key=self.key) | fields

    def probe_body(self, **fields: Any) -> dict[str, Any]:
        """A cheap valid body for the targeted checks, whatever the profile."""
        return self.body(width=256, height=256, samples=1, num_inference_steps=2) | fields

    def answer_checks(self, exchange: Exchange, out: Outcome) -> None:
        out.judge("conformance", checks.conformance(self.spec, exchange), exchange)
        out.judge("no_server_error", checks.no_server_error(exchange), exchange)

    def send(self, body: Any, out: Outcome, headers: dict[str, str] | None = None,
             operation: str = "text2img") -> Exchange:
        exchange = self.client.post(operation, self.client.url_for(operation), body=body, headers=headers)
        out.exchange = exchange
        self.answer_checks(exchange, out)
        return exchange

    def resolve(self, exchange: Exchange, request: GenerationRequest, out: Outcome) -> dict[str, Any] | None:
        """The success payload, polling fetch when the answer was processing (the lifecycle check)."""
        if not 200 <= exchange.status < 300 or exchange.branch not in ("success", "processing"):
            return None
        first = exchange.json
        if self.known_id is None:
            self.known_id = first.get("id")
        if exchange.branch == "success":
            return first
        if self.stalled.is_set():
            with self.counting:
                self.unfollowed += 1
            return None
        out.exercised["lifecycle"] += 1
        future = first.get("future_links")
        if isinstance(future, list) and future and len(future) != request.samples:
            out.judge("lifecycle", [f"future_links has {len(future)} item(s) for samples={request.samples}"],
                      exchange)
        started = time.monotonic()
        polled = follow(self.client, exchange, margin=self.settings.fetch_margin,
                        on_answer=lambda poll: self.answer_checks(poll, out), stalled=self.stalled)
        out.seconds["lifecycle"] += time.monotonic() - started
        if polled.abandoned:
            with self.counting:
                self.unfollowed += 1
        for problem, poll in polled.problems:
            out.judge("lifecycle", [problem], poll)
        if polled.result is None:
            return None
        self.judge_completion(polled.result, first.get("id"), request, future, out)
        return polled.result.json

    def judge_completion(self, poll: Exchange, generation_id: Any, request: GenerationRequest,
                         future: Any, out: Outcome) -> None:
        result, problems = poll.json, []
        if result.get("id") != generation_id:
            problems.append(f"fetch of {generation_id} succeeded with id {result.get('id')!r}")
        output = result.get("output") if isinstance(result.get("output"), list) else []
        if len(output) != request.samples:
            problems.append(f"fetch succeeded with {len(output)} output item(s) for samples={request.samples}")
        if isinstance(future, list) and future and not request.base64:
            for image in load_outputs(self.client, future, as_base64=False):
                if image.problem:
                    problems.append(image.problem.replace("output[", "future_links[", 1))
        out.judge("lifecycle", problems, poll)

    def evaluate_valid(self, body: dict[str, Any], *, headers: dict[str, str] | None = None,
                       result_checks: bool = True, operation: str = "text2img") -> Outcome:
        """Send a valid body; judge the answer, its result and (text2img) the image size."""
        out = Outcome()
        request = parse_request(operation, body, self.spec)
        exchange = self.send(body, out, headers, operation)
        dependent = {name: body[name] for name in self.spec.model_dependent_fields(operation) if name in body}
        out.judge("valid_accepted", checks.valid_accepted(exchange, dependent), exchange)
        with self.counting:
            if checks.refused_for_the_model(exchange, dependent):
                named = {problem["field"] for problem in exchange.json["errors"]}
                self.refused_for_model.update(f"{name}={dependent[name]}" for name in sorted(named))
            self.valid_sent += 1
            self.valid_taken += exchange.branch in ("success", "processing") and 200 <= exchange.status < 300
        out.result = self.resolve(exchange, request, out)
        if out.result is not None:
            out.images = load_outputs(self.client, out.result.get("output"), as_base64=request.base64)
            if result_checks:
                out.judge("sample_count", checks.sample_count(request, out.result), exchange)
            if result_checks and operation == "text2img":
                out.judge("image_size", checks.image_size(self.spec, request, out.images), exchange)
            # Input images are not asked back (a base64 init image in every meta would be megabytes), nor the
            # width and height img2img and inpaint take from the init image (DECISIONS D20).
            echoed = body if operation == "text2img" else {
                k: v for k, v in body.items() if k not in ("init_image", "mask_image", "width", "height")}
            out.judge("meta_echo", checks.meta_echo(self.spec, request, echoed, out.result), exchange)
        return out

    def evaluate_invalid(self, body: Any, operation: str = "text2img") -> Outcome:
        out = Outcome()
        exchange = self.client.post(operation, self.client.url_for(operation), raw=body) \
            if isinstance(body, bytes) else self.send(body, out, operation=operation)
        if isinstance(body, bytes):
            out.exchange = exchange
            self.answer_checks(exchange, out)
        out.judge("invalid_rejected", checks.invalid_rejected(exchange), exchange)
        return out

    def record(self, out: Outcome, expected: dict[str, str] | None = None, context: str = "",
               retry: Callable[[dict[str, Any]], Outcome] | None = None, body: Any = None,
               operation: str = "text2img") -> None:
        for check, times in out.exercised.items():
            problems = out.found.get(check) or []
            if not problems:
                self.report.exercised(check, times)
                self.report.timed(check, out.seconds[check])
                continue
            self.report.timed(check, out.seconds[check])
            smallest = None
            if retry is not None and isinstance(body, dict) and check not in self.minimised:
                self.minimised.add(check)
                smallest = self.minimise(body, check, retry, operation)
            for index, (problem, exchange) in enumerate(problems):
                exchange = (smallest if index == 0 else None) or exchange  # each failure shows its own answer
                where = context
                if exchange is not None and out.exchange is not None and \
                        exchange.operation != out.exchange.operation:
                    where = "; ".join(filter(None, [context, "the generation was started by: "
                                                    + out.exchange.curl()]))
                self.report.fail(check, (expected or {}).get(check, CHECKS[check]), problem, exchange, where)
            self.report.exercised(check, max(times - len(problems), 0))  # the judgments that passed

    def minimise(self, body: dict[str, Any], check: str, retry: Callable[[dict[str, Any]], Outcome],
                 operation: str = "text2img") -> Exchange | None:
        """Drop optional fields while ``check`` still fails; the smallest failing exchange.

        A candidate must stay on the same side of the oracle (valid or invalid) as ``body``.
        """
        required = {item.name for item in self.spec.request_fields(operation) if item.required}
        if self.settings.profile == "cheap":
            required |= CHEAP_FIELDS  # dropping them would fall back to costlier defaults
        validity = is_valid(body, self.spec, operation)
        smallest: Exchange | None = None
        budget = MINIMISE_BUDGET
        for name in [k for k in body if k not in required]:
            if budget <= 0:
                break
            candidate = {k: v for k, v in body.items() if k != name}
            if is_valid(candidate, self.spec, operation) != validity:
                continue
            budget -= 1
            attempt = retry(candidate)
            if attempt.found.get(check):
                body, smallest = candidate, attempt.found[check][0][1]
        return smallest

    # -- the scenarios -------------------------------------------------------------
    def defaults(self) -> None:
        body = self.body()
        request = parse_request("text2img", body, self.spec)
        out = self.evaluate_valid(body, result_checks=False)
        if out.exchange is not None and not out.exchange.answered:
            raise ServerUnreachable(self.settings.base_url, out.exchange.error or "no answer")
        if out.result is not None:
            out.judge("defaults", checks.defaults(self.spec, request, out.result, out.images), out.exchange)
        else:
            self.report.skip("defaults", "the minimal body gave no success (see valid_accepted, lifecycle)")
        self.record(out)

    def generated_valid(self) -> None:
        settings = self.settings
        bodies = edge_bodies(self.spec, profile=settings.profile, model_id=self.model_id,
                             loras=settings.loras, key=self.key)
        bodies += draw(valid_bodies(self.spec, profile=settings.profile, model_id=self.model_id,
                                    loras=settings.loras, key=self.key), settings.max_examples, seed=self.seed)
        for body, out in self.evaluated(self.evaluate_valid, bodies):
            self.record(out, retry=self.evaluate_valid, body=body)

    def evaluated(self, evaluate: Callable[[Any], Outcome], bodies: list[Any]) -> Iterator[tuple[Any, Outcome]]:
        """Each body with its outcome, in the bodies' order, ``--workers`` requests in flight at once."""
        if self.settings.workers == 1:
            yield from ((body, evaluate(body)) for body in bodies)
            return
        with ThreadPoolExecutor(self.settings.workers, thread_name_prefix="t2i-test") as pool:
            yield from zip(bodies, pool.map(evaluate, bodies))

    def anything_accepted(self) -> None:
        """Back-pressure answers are allowed, but a server that never accepts anything fails."""
        if self.valid_sent and not self.valid_taken:
            self.report.fail("valid_accepted", "at least one valid body accepted (success or processing)",
                             f"none of the {self.valid_sent} valid bodies was accepted")

    def generated_invalid(self) -> None:
        bodies: list[Any] = invalid_edge_bodies(self.spec, model_id=self.model_id, key=self.key)
        bodies += draw(invalid_bodies(self.spec, model_id=self.model_id, key=self.key),
                       self.settings.max_examples, seed=self.seed)
        for body, out in self.evaluated(self.evaluate_invalid, bodies + list(MALFORMED_BODIES)):
            self.record(out, retry=self.evaluate_invalid, body=body)
        for fetch in (self.client.fetch_by_id, self.client.fetch):
            out = Outcome()
            for generation_id in (UNKNOWN_ID, "not-an-id", "..%2F..%2Fetc%2Fpasswd"):
                exchange = fetch(generation_id)
                self.answer_checks(exchange, out)
                out.judge("invalid_rejected", checks.invalid_rejected(exchange), exchange)
            self.record(out, context="fetch of an id no generation has")

    def determinism(self) -> None:
        seed = random.Random(self.seed).randrange(2**32)
        body = self.probe_body(prompt="determinism probe", samples=2, seed=seed)
        runs = [self.evaluate_valid(b) for b in (body, body, body | {"seed": (seed + 1) % 2**32})]
        for run in runs:
            self.record(run)
        prints = [[image.fingerprint for image in run.images] for run in runs]
        if any(run.result is None or not p or not all(p) for run, p in zip(runs, prints)):
            self.report.skip("determinism", "a probe request did not give decodable images")
            return
        out = Outcome()
        out.seconds["determinism"] = sum(run.exchange.elapsed for run in runs if run.exchange is not None)
        out.timed |= {("determinism", id(run.exchange)) for run in runs}
        out.judge("determinism", [] if prints[0] == prints[1] else
                  [f"the same body with seed {seed} gave different images on two requests"], runs[1].exchange)
        out.judge("determinism", [] if prints[0] != prints[2] else
                  [f"seeds {seed} and {seed + 1} gave identical images"], runs[2].exchange)
        self.record(out)

    def lifecycle(self) -> None:
        out = self.evaluate_valid(self.probe_body(prompt="lifecycle probe", samples=2),
                                  headers={"Prefer": PROCESSING_PREFERENCE})
        self.record(out, context="requested with the header Prefer: " + PROCESSING_PREFERENCE)
        if not self.report.results["lifecycle"].exercised:
            self.report.skip("lifecycle", "the server never answered processing, so fetch polling was not exercised")

    def webhook(self) -> None:
        token = uuid.uuid4().hex
        with WebhookReceiver(self.settings.webhook_host) as receiver:
            body = self.probe_body(prompt="webhook probe", webhook=f"{receiver.url}/{token}", track_id=token)
            out = self.evaluate_valid(body)
            self.record(out)
            if out.result is None:
                self.report.skip("webhook", "the webhook probe's generation was not followed (see lifecycle)"
                                 if self.stalled.is_set() else
                                 "the webhook probe was not accepted (see valid_accepted)")
                return
            generation_id = out.result.get("id")
            waited = time.monotonic()
            delivery = receiver.wait_for(
                lambda d: isinstance(d.payload, dict) and d.payload.get("track_id") == token,
                self.settings.webhook_timeout)
        result = Outcome()
        result.seconds["webhook"] = time.monotonic() - waited
        if delivery is None:
            result.judge("webhook", [f"no payload with track_id {token} reached {receiver.url}/{token} within "
                                     f"{self.settings.webhook_timeout:g}s"], out.exchange)
        else:
            payload = delivery.payload
            problems = [f"payload: {p}" for p in self.spec.responses.check_webhook(payload)]
            if payload.get("status") != "success":
                problems.append(f"payload status is {payload.get('status')!r}, expected 'success'")
            if payload.get("id") != generation_id:
                problems.append(f"payload id is {payload.get('id')!r}, the generation's id is {generation_id!r}")
            output = payload.get("output")
            if not isinstance(output, list) or len(output) != 1:
                problems.append(f"payload output has {len(output) if isinstance(output, list) else 0} item(s) "
                                "for samples=1")
            result.judge("webhook", problems, out.exchange)
        self.record(result)

    def auth(self) -> None:
        if self.settings.key is None:
            self.report.skip("auth", "no --key given, so the server is not expected to check keys")
            return
        wrong = self.key + "-not-a-valid-key"
        out = Outcome()
        exchanges = [self.client.text2img(self.probe_body(prompt="auth probe", key=wrong))]
        if self.known_id is not None:
            exchanges.append(self.client.fetch_by_id(self.known_id, key=wrong))
        for exchange in exchanges:
            self.answer_checks(exchange, out)
            problems = [] if exchange.status == 401 and exchange.branch == "error" else [
                f"HTTP {exchange.status} with status {exchange.branch!r} for a wrong key"]
            out.judge("auth", problems, exchange)
        self.record(out, expected={"auth": "HTTP 401 with the error shape for a key the server does not know"})


def run_suite(settings: Settings, spec: Spec | None = None, progress: Callable[[str], None] | None = None) -> Report:
    """Run every check against ``settings.base_url`` and return the report.

    ``progress`` is told, in words, what the run is doing (the CLI's ``--verbose``).
    A scenario whose check is in ``settings.skip`` is not run at all.
    """
    spec = spec or load_spec(settings.spec_path)
    seed = settings.seed if settings.seed is not None else random.randrange(2**31)
    report = Report(settings.base_url, profile=settings.profile, seed=seed, max_examples=settings.max_examples)
    if settings.wait:
        error = wait_until_answering(settings.base_url, settings.wait, headers=dict(settings.headers))
        if error is not None:
            raise ServerUnreachable(settings.base_url, f"{error} (waited {settings.wait:g}s, --wait)")
    run = _Run(settings, spec, report, seed)
    scenarios: list[tuple[str, str, Callable[[], None]]] = [
        ("defaults", "a body with only the required fields", run.defaults),
        ("", f"edge bodies and {settings.max_examples} generated valid bodies", run.generated_valid),
        ("", f"every rule broken once, {settings.max_examples} generated invalid bodies, malformed bodies",
         run.generated_invalid),
        ("determinism", "one seed twice, then another seed", run.determinism),
        ("lifecycle", "a request that asks for a processing answer", run.lifecycle),
        ("webhook", "a request with a webhook to the suite's receiver", run.webhook),
        ("auth", "a wrong key", run.auth),
        ("", "img2img, inpaint and model_reload, with input images the suite serves",
         lambda: run_image_operations(run)),
        ("", "", run.anything_accepted),
    ]
    try:
        for check, what, scenario in scenarios:
            if check in settings.skip:
                continue
            if progress is not None and what:
                progress(f"{check or 'sending'}: {what}")
            scenario()
    finally:
        run.client.close()
    for check in settings.skip:
        report.results[check].failures.clear()
        report.results[check].exercised = 0
        report.skip(check, "skipped on request (--skip)")
    if run.unfollowed:
        report.notes.append(f"{run.unfollowed} processing answer(s) not followed: a generation had already run "
                            "past its eta and margin (see lifecycle)")
    if run.refused_for_model:
        report.notes.append(f"valid bodies refused for model {run.model_id} with a 400 naming the value, as the spec "
                            f"allows (x-t2i-model-dependent): {', '.join(sorted(run.refused_for_model))}")
    report.notes.append(f"{run.client.sent} requests sent")
    return report.finish()
