"""The suite's text2img scenarios, each a function of the :class:`Engine` and the :class:`Recorder`.

In the order :data:`SCENARIOS` lists them (``run_suite`` runs them, then the image
operations of :mod:`contract_tests.operations`):

1. ``defaults``: a body of only the required fields;
2. generated valid bodies (the profile's edge bodies, then hypothesis draws), judged by
   ``valid_accepted`` and every ``result`` check on the result, fetching first when the
   answer was ``processing``;
3. every rule of every field broken once, generated invalid bodies, malformed bodies and
   fetches of unknown ids: ``invalid_rejected``, and ``invalid_named`` for each body that
   breaks one field;
4. ``determinism``: one body with a fixed seed twice, then with another seed of the spec's range;
5. ``lifecycle``: a body sent with the Prefer header asking for a processing answer (a
   server that ignores the header and answers at once leaves the check skipped unless
   another answer was ``processing``);
6. ``webhook``: a body whose ``webhook`` points at a receiver the suite runs, its job still
   processing when accepted (:mod:`contract_tests.webhooks`);
7. ``auth``: when a key is configured, a wrong key and no key on text2img, a wrong key on both
   fetches (img2img, inpaint and model_reload get the same in :mod:`contract_tests.operations`).

A scenario whose check is left out (``--skip``, or not among ``--checks``) is not run.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable

from t2i_contract.spec import parse_request
from t2i_contract.wire.seeds import seed_range

from . import checks
from .engine import Engine, Outcome
from .errors import ServerUnreachable
from .generation import MALFORMED_BODIES, draw, edge_bodies, invalid_bodies, labelled_invalid_bodies, valid_bodies
from .recording import Recorder
from .webhooks import documents_webhook, webhook_promise

__all__ = ["SCENARIOS", "UNKNOWN_ID", "Scenario", "anything_accepted", "key_refusals"]

UNKNOWN_ID = 4_000_000_000 + 12_345


@dataclass(frozen=True)
class Scenario:
    """One step of a run: ``check`` (or "" when it ``feeds`` many checks), what it sends, the step itself, and the
    operation it sends to ("" for several: each is asked whether it is tested)."""

    check: str
    what: str
    run: Callable[[Engine, Recorder], None]
    operation: str = "text2img"
    feeds: frozenset[str] = frozenset()


VALID_FEEDS = frozenset({"valid_accepted", "lifecycle"})  # and every answer and result check
INVALID_FEEDS = frozenset({"invalid_rejected", "invalid_named"})  # and every answer check


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
    labelled: list[tuple[str | None, Any]] = labelled_invalid_bodies(engine.spec, model_id=engine.model_id,
                                                                     key=engine.key)
    labelled += [(None, body) for body in draw(invalid_bodies(engine.spec, model_id=engine.model_id, key=engine.key),
                                               engine.settings.max_examples, seed=engine.seed)]
    labelled += [(None, body) for body in MALFORMED_BODIES]
    for (_, body), out in engine.evaluated(lambda pair: engine.evaluate_invalid(pair[1], field=pair[0]), labelled):
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
                                headers={"Prefer": engine.processing})
    recorder.record(out, context="requested with the header Prefer: " + engine.processing)


def webhook(engine: Engine, recorder: Recorder) -> None:
    """text2img's webhook (:mod:`contract_tests.webhooks`; img2img and inpaint in :mod:`contract_tests.operations`)."""
    if documents_webhook(engine, "text2img"):
        webhook_promise(engine, recorder, "text2img", engine.probe_body(prompt="webhook probe"))


def auth(engine: Engine, recorder: Recorder) -> None:
    if engine.settings.key is None:
        return  # SKIP with the registered reason: no key, so none is expected to be checked
    key_refusals(engine, recorder, "text2img", engine.probe_body(prompt="auth probe"))
    if engine.tally.known_id is not None:
        out = Outcome()
        for fetch in (engine.client.fetch_by_id, engine.client.fetch):
            exchange = fetch(engine.tally.known_id, key=wrong_key(engine))
            engine.answer_checks(exchange, out)
            out.judge("auth", checks.key_refused(exchange), exchange)
        recorder.record(out, context="a fetch with a wrong key")


def wrong_key(engine: Engine) -> str:
    return engine.key + "-not-a-valid-key"


def key_refusals(engine: Engine, recorder: Recorder, operation: str, body: dict[str, Any], context: str = "") -> None:
    """``body`` (valid with the right key) sent to ``operation`` with a wrong key, then with none: both refused."""
    for missing, sent in ((False, body | {"key": wrong_key(engine)}),
                          (True, {k: v for k, v in body.items() if k != "key"})):
        out = Outcome()
        exchange = engine.send(sent, out, operation=operation)
        out.judge("auth", checks.key_refused(exchange, missing), exchange)
        recorder.record(out, context="; ".join(filter(None, [f"{operation} with {'no' if missing else 'a wrong'} "
                                                             "key", context])))


def anything_accepted(engine: Engine, recorder: Recorder) -> None:
    """Back-pressure answers are allowed, but a server that never accepts anything fails."""
    tally = engine.tally
    if tally.valid_sent and not tally.valid_taken:
        recorder.fail("valid_accepted", f"none of the {tally.valid_sent} valid bodies was accepted",
                      expected="at least one valid body accepted (success or processing)")


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("defaults", "a body with only the required fields", defaults),
    Scenario("", "edge bodies and generated valid bodies", generated_valid, feeds=VALID_FEEDS),
    Scenario("", "every rule broken once, generated invalid bodies, malformed bodies", generated_invalid,
             feeds=INVALID_FEEDS),
    Scenario("determinism", "one seed twice, then another seed", determinism),
    Scenario("lifecycle", "a request that asks for a processing answer", lifecycle),
    Scenario("webhook", "a request with a webhook to the suite's receiver", webhook),
    Scenario("auth", "a wrong key", auth),
)
