"""The suite's text2img scenarios, each a function of the :class:`Engine` and the :class:`Recorder`.

In the order :data:`SCENARIOS` lists them (``run_suite`` runs them, then the image
operations of :mod:`contract_tests.operations`):

1. ``defaults``: a body of only the required fields;
2. generated valid bodies (the profile's edge bodies, then hypothesis draws), judged by
   ``valid_accepted`` and every ``result`` check on the result, fetching first when the
   answer was ``processing``;
3. every rule of every field broken once, generated invalid bodies, malformed bodies and
   fetches of unknown ids: ``invalid_rejected``;
4. ``determinism``: one body with a fixed seed twice, then with another seed of the spec's range;
5. ``lifecycle``: a body sent with the Prefer header asking for a processing answer (a
   server that ignores the header and answers at once leaves the check skipped unless
   another answer was ``processing``);
6. ``webhook``: a body whose ``webhook`` points at a receiver the suite runs;
7. ``auth``: when a key is configured, a wrong key.

A scenario whose check is left out (``--skip``, or not among ``--checks``) is not run.
"""
from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from t2i_contract.spec import parse_request
from t2i_contract.wire.seeds import seed_range

from . import checks
from .engine import PROCESSING, Engine, Outcome
from .errors import ServerUnreachable
from .generation import MALFORMED_BODIES, draw, edge_bodies, invalid_bodies, invalid_edge_bodies, valid_bodies
from .listener import WebhookReceiver
from .recording import Recorder

__all__ = ["SCENARIOS", "UNKNOWN_ID", "Scenario", "anything_accepted"]

UNKNOWN_ID = 4_000_000_000 + 12_345


@dataclass(frozen=True)
class Scenario:
    """One step of a run: ``check`` (or "" when it feeds many checks), what it sends, and the step itself."""

    check: str
    what: str
    run: Callable[[Engine, Recorder], None]


def defaults(engine: Engine, recorder: Recorder) -> None:
    body = engine.body()
    request = parse_request("text2img", body, engine.spec)
    out = engine.evaluate_valid(body, result_checks=False)
    if out.exchange is not None and not out.exchange.answered:
        raise ServerUnreachable(engine.settings.base_url, out.exchange.error or "no answer")
    if out.result is not None:
        out.judge("defaults", checks.defaults(engine.spec, request, out.result, out.images), out.exchange)
    recorder.record(out)


def generated_valid(engine: Engine, recorder: Recorder) -> None:
    settings = engine.settings
    common = {"profile": settings.profile, "model_id": engine.model_id, "loras": settings.loras, "key": engine.key}
    bodies = edge_bodies(engine.spec, **common)
    bodies += draw(valid_bodies(engine.spec, **common), settings.max_examples, seed=engine.seed)
    for body, out in engine.evaluated(engine.evaluate_valid, bodies):
        recorder.record(out, retry=engine.evaluate_valid, body=body)


def generated_invalid(engine: Engine, recorder: Recorder) -> None:
    bodies: list[Any] = invalid_edge_bodies(engine.spec, model_id=engine.model_id, key=engine.key)
    bodies += draw(invalid_bodies(engine.spec, model_id=engine.model_id, key=engine.key),
                   engine.settings.max_examples, seed=engine.seed)
    for body, out in engine.evaluated(engine.evaluate_invalid, bodies + list(MALFORMED_BODIES)):
        recorder.record(out, retry=engine.evaluate_invalid, body=body)
    for fetch in (engine.client.fetch_by_id, engine.client.fetch):
        out = Outcome()
        for generation_id in (UNKNOWN_ID, "not-an-id", "..%2F..%2Fetc%2Fpasswd"):
            exchange = fetch(generation_id)
            engine.answer_checks(exchange, out)
            out.judge("invalid_rejected", checks.invalid_rejected(exchange), exchange)
        recorder.record(out, context="fetch of an id no generation has")


def determinism(engine: Engine, recorder: Recorder) -> None:
    seeds = seed_range(engine.spec, "text2img")
    seed = seeds.pick(random.Random(engine.seed).randrange)
    other = seeds.next(seed)
    body = engine.probe_body(prompt="determinism probe", samples=2, seed=seed)
    runs = [engine.evaluate_valid(b) for b in (body, body, body | {"seed": other})]
    for run in runs:
        recorder.record(run)
    prints = [[image.fingerprint for image in run.images] for run in runs]
    if any(run.result is None or not p or not all(p) for run, p in zip(runs, prints)):
        return  # nothing to compare: SKIP with the registered reason
    out = Outcome()
    out.seconds["determinism"] = sum(run.exchange.elapsed for run in runs if run.exchange is not None)
    out.timed |= {("determinism", id(run.exchange)) for run in runs}
    out.judge("determinism", [] if prints[0] == prints[1] else
              [f"the same body with seed {seed} gave different images on two requests (the spec: the same seed "
               "and parameters give the same images)"], runs[1].exchange)
    out.judge("determinism", [] if prints[0] != prints[2] else
              [f"seeds {seed} and {other} gave identical images (the spec: the seed decides the noise)"],
              runs[2].exchange)
    recorder.record(out)


def lifecycle(engine: Engine, recorder: Recorder) -> None:
    out = engine.evaluate_valid(engine.probe_body(prompt="lifecycle probe", samples=2),
                                headers={"Prefer": PROCESSING})
    recorder.record(out, context="requested with the header Prefer: " + PROCESSING)


def webhook(engine: Engine, recorder: Recorder) -> None:
    settings = engine.settings
    token = uuid.uuid4().hex
    with WebhookReceiver(settings.webhook_host) as receiver:
        body = engine.probe_body(prompt="webhook probe", webhook=f"{receiver.url}/{token}", track_id=token)
        out = engine.evaluate_valid(body)
        recorder.record(out)
        if out.result is None:
            if engine.stalled.is_set():
                recorder.skip("webhook", "the webhook probe's generation was not followed (see lifecycle)")
            return
        generation_id = out.result.get("id")
        waited = time.monotonic()
        delivery = receiver.wait_for(
            lambda d: isinstance(d.payload, dict) and d.payload.get("track_id") == token, settings.webhook_timeout)
    result = Outcome()
    result.seconds["webhook"] = time.monotonic() - waited
    if delivery is None:
        result.judge("webhook", [f"no payload with track_id {token} reached {receiver.url}/{token} within "
                                 f"{settings.webhook_timeout:g}s"], out.exchange)
    else:
        payload = delivery.payload
        problems = [f"payload: {p}" for p in engine.spec.responses.check_webhook(payload)]
        if payload.get("status") != "success":
            problems.append(f"payload status is {payload.get('status')!r}, expected 'success'")
        if payload.get("id") != generation_id:
            problems.append(f"payload id is {payload.get('id')!r}, the generation's id is {generation_id!r}")
        output = payload.get("output")
        if not isinstance(output, list) or len(output) != 1:
            problems.append(f"payload output has {len(output) if isinstance(output, list) else 0} item(s) "
                            "for samples=1")
        result.judge("webhook", problems, out.exchange)
    recorder.record(result)


def auth(engine: Engine, recorder: Recorder) -> None:
    if engine.settings.key is None:
        return  # SKIP with the registered reason: no key, so none is expected to be checked
    wrong = engine.key + "-not-a-valid-key"
    out = Outcome()
    exchanges = [engine.client.text2img(engine.probe_body(prompt="auth probe", key=wrong))]
    if engine.tally.known_id is not None:
        exchanges.append(engine.client.fetch_by_id(engine.tally.known_id, key=wrong))
    for exchange in exchanges:
        engine.answer_checks(exchange, out)
        problems = [] if exchange.status == 401 and exchange.branch == "error" else [
            f"HTTP {exchange.status} with status {exchange.branch!r} for a wrong key"]
        out.judge("auth", problems, exchange)
    recorder.record(out, expected={"auth": "HTTP 401 with the error shape for a key the server does not know"})


def anything_accepted(engine: Engine, recorder: Recorder) -> None:
    """Back-pressure answers are allowed, but a server that never accepts anything fails."""
    tally = engine.tally
    if tally.valid_sent and not tally.valid_taken:
        recorder.fail("valid_accepted", f"none of the {tally.valid_sent} valid bodies was accepted",
                      expected="at least one valid body accepted (success or processing)")


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("defaults", "a body with only the required fields", defaults),
    Scenario("", "edge bodies and generated valid bodies", generated_valid),
    Scenario("", "every rule broken once, generated invalid bodies, malformed bodies", generated_invalid),
    Scenario("determinism", "one seed twice, then another seed", determinism),
    Scenario("lifecycle", "a request that asks for a processing answer", lifecycle),
    Scenario("webhook", "a request with a webhook to the suite's receiver", webhook),
    Scenario("auth", "a wrong key", auth),
)
