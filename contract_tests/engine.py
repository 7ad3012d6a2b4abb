"""The scenario engine: sends requests, follows them to their result, and judges every answer and result.

``t2i test`` and ``t2i drift`` both run on an :class:`Engine`: exchanges in, an
:class:`Outcome` per request out (what each check judged and found, the result, its
images). The suite records outcomes as verdicts (:class:`~contract_tests.recording.Recorder`);
drift turns the same outcomes into findings. The engine runs every registered
``answer`` check on each answer (fetch polls included) and every ``result`` check on
each success result (:mod:`contract_tests.registry`), so a plugin's check is judged
wherever the built-in ones are. ``observe`` sees every answer as it comes (drift's
observer); ``--workers`` bodies go at once through :meth:`Engine.evaluated`.

Once one generation has run past its eta and margin (a ``lifecycle`` failure), the
engine follows no further processing answer (``stalled``): a server whose jobs never
finish costs one wait, not one per request.
"""
from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from t2i_contract.spec import GenerationRequest, Spec, parse_request
from t2i_contract.wire.contract import wire_of
from t2i_contract.wire.prefer import prefer_header

from . import checks
from .client import Client, Exchange
from .errors import ConfigError
from .har import Archive
from .generation import default_model_id, minimal_body
from .images import LoadedImage, load_outputs
from .polling import Polled, follow
from .registry import REGISTRY, Result, Verdict, judged_count, problems_of
from .settings import Settings

__all__ = ["DEFAULTS_COVER", "Engine", "Inputs", "Outcome", "Tally", "chosen_operations"]

DEFAULTS_COVER = frozenset({"sample_count", "image_size"})  # the minimal body's count and size: defaults' verdict
Inputs = dict[str, tuple[tuple[int, int], bytes]]  # input field -> (size, pixels) of the image sent


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
    polled: Polled | None = None  # how following a processing answer ended, when it was followed

    def judge(self, check: str, verdict: Verdict | list[str], exchange: Exchange | None) -> None:
        """Record ``check``'s verdict; a :class:`Verdict` that judged nothing leaves the check unexercised."""
        problems = problems_of(verdict)
        self.exercised[check] += judged_count(verdict)  # a failure counts at least once anyway (Recorder)
        self.found[check].extend((p, exchange) for p in problems)
        if exchange is not None and (check, id(exchange)) not in self.timed:
            self.timed.add((check, id(exchange)))
            self.seconds[check] += exchange.elapsed


@dataclass
class Tally:
    """What the run noticed along the way, for its notes (updated from several threads under ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    unfollowed: int = 0
    valid_sent: int = 0
    valid_taken: int = 0
    known_id: Any = None
    refused_for_model: set[str] = field(default_factory=set)  # "field=value" refused for the model, as allowed


def chosen_operations(spec: Spec, names: tuple[str, ...]) -> frozenset[str] | None:
    """``--operation`` names as the spec's operation ids (an id, or the last segment of its path); None: every one."""
    if not names:
        return None
    known = spec.operation_names()
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError("operations", unknown, "among the spec's operations: " + ", ".join(sorted(known)))
    return frozenset(known[name] for name in names)


class Engine:
    """Sends one run's requests to ``settings.base_url`` and judges what comes back (see the module docstring)."""

    def __init__(self, settings: Settings, spec: Spec, seed: int,
                 observe: Callable[[Exchange], None] | None = None,
                 wants_images: Callable[[str, dict[str, Any]], bool] | None = None) -> None:
        """``observe`` sees every answer; ``wants_images(operation, body)`` False leaves a result's images
        unloaded (drift downloads a few only), so the result checks that measure images judge none."""
        self.settings, self.spec, self.seed = settings, spec, seed
        self.processing = prefer_header(status="processing", eta=settings.eta)
        """The Prefer value that asks for a processing answer (``--eta``)."""
        self.key = settings.request_key
        self.model_id = settings.model_id or default_model_id(spec)
        self.archive = Archive("t2i", self.key) if settings.record is not None else None
        self.client = Client(spec, settings.base_url, key=self.key, timeout=settings.timeout,
                             retries=settings.retries, max_retry_wait=settings.max_retry_wait,
                             headers=dict(settings.headers), rate_limit=settings.rate_limit, recorder=self.archive)
        self.operations = chosen_operations(spec, settings.operations)
        self.observe = observe
        self.wants_images = wants_images
        self.stalled = threading.Event()  # set once a generation ran past its eta and margin
        self.tally = Tally()

    def close(self) -> None:
        """Close the client; write the ``--record`` archive of what was sent."""
        self.client.close()
        if self.archive is not None and self.settings.record is not None:
            self.archive.write(self.settings.record)

    def runs(self, check: str) -> bool:
        """Is ``check`` judged in this run (not left out with --skip, among --checks when given)?"""
        return self.settings.runs(check)

    def feeds(self, checks: frozenset[str]) -> bool:
        """Would requests judged by ``checks`` (and by every answer and result check) judge anything chosen?"""
        generic = {info.id for info in REGISTRY.values() if info.kind in ("answer", "result")}
        return any(self.runs(check) for check in checks | generic)

    def tests(self, operation: str) -> bool:
        """Is ``operation`` tested in this run (``--operation``; fetch goes with text2img)?"""
        if operation in wire_of(self.spec).lifecycle.fetch:  # the document's fetch forms
            operation = "text2img"
        return self.operations is None or operation in self.operations

    # -- bodies ----------------------------------------------------------------------
    def body(self, **fields: Any) -> dict[str, Any]:
        return minimal_body(self.spec, model_id=self.model_id, key=self.key) | fields

    def probe_body(self, **fields: Any) -> dict[str, Any]:
        """A cheap valid body for the targeted checks, whatever the profile."""
        return self.body(width=256, height=256, samples=1, num_inference_steps=2) | fields

    # -- answers -----------------------------------------------------------------------
    def answer_checks(self, exchange: Exchange, out: Outcome) -> None:
        """Every registered ``answer`` check (conformance, no_server_error, a plugin's) on one answer."""
        if self.observe is not None:
            self.observe(exchange)
        for info in list(REGISTRY.values()):
            if info.kind == "answer" and self.runs(info.id) and \
                    (not info.operations or exchange.operation in info.operations):
                out.judge(info.id, info.fn(self.spec, exchange), exchange)  # type: ignore[misc]

    def result_checks(self, result: Result, out: Outcome, leave: frozenset[str] = frozenset()) -> None:
        """Every registered ``result`` check (sample_count, image_size, meta_echo, ..., a plugin's) on one result."""
        for info in list(REGISTRY.values()):
            if info.kind == "result" and self.runs(info.id) and info.id not in leave and \
                    (not info.operations or result.operation in info.operations):
                out.judge(info.id, info.fn(result), result.exchange)  # type: ignore[misc]

    def send(self, body: Any, out: Outcome, headers: dict[str, str] | None = None,
             operation: str = "text2img") -> Exchange:
        """POST ``body`` (bytes: sent as they are) to ``operation`` and judge the answer."""
        url = self.client.url_for(operation)
        exchange = self.client.post(operation, url, raw=body) if isinstance(body, bytes) else \
            self.client.post(operation, url, body=body, headers=headers)
        out.exchange = exchange
        self.answer_checks(exchange, out)
        return exchange

    # -- following a generation --------------------------------------------------------
    def resolve(self, exchange: Exchange, request: GenerationRequest, out: Outcome) -> dict[str, Any] | None:
        """The success payload, polling fetch when the answer was processing (the lifecycle check)."""
        if not 200 <= exchange.status < 300 or exchange.branch not in ("success", "processing"):
            return None
        first = exchange.json
        with self.tally.lock:
            if self.tally.known_id is None:
                self.tally.known_id = first.get("id")
        if exchange.branch == "success":
            return first
        if self.stalled.is_set():
            with self.tally.lock:
                self.tally.unfollowed += 1
            return None
        out.exercised["lifecycle"] += 1  # one processing answer followed; what follows are its problems
        future = first.get("future_links")
        if isinstance(future, list) and future and len(future) != request.samples:
            out.judge("lifecycle", Verdict([f"future_links has {len(future)} item(s) for samples={request.samples}"],
                                           0), exchange)
        started = time.monotonic()
        polled = follow(self.client, exchange, margin=self.settings.fetch_margin,
                        on_answer=lambda poll: self.answer_checks(poll, out), stalled=self.stalled)
        out.seconds["lifecycle"] += time.monotonic() - started
        out.polled = polled
        if polled.abandoned:
            with self.tally.lock:
                self.tally.unfollowed += 1
        for problem, poll in polled.problems:
            out.judge("lifecycle", Verdict([problem], 0), poll)
        if polled.result is None:
            return None
        self._judge_completion(polled.result, first.get("id"), request, future, out)
        return polled.result.json

    def _judge_completion(self, poll: Exchange, generation_id: Any, request: GenerationRequest,
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
        out.judge("lifecycle", Verdict(problems, 0), poll)

    # -- one request, judged -----------------------------------------------------------
    def evaluate_valid(self, body: dict[str, Any], *, headers: dict[str, str] | None = None,
                       result_checks: bool = True, operation: str = "text2img",
                       inputs: Inputs | None = None) -> Outcome:
        """Send a valid body; judge the answer and its result (``result_checks`` False: only meta_echo, for the
        minimal body whose count and size ``defaults`` judges)."""
        out = Outcome()
        request = parse_request(operation, body, self.spec)
        exchange = self.send(body, out, headers, operation)
        dependent = {name: body[name] for name in self.spec.model_dependent_fields(operation) if name in body}
        out.judge("valid_accepted", checks.valid_accepted(exchange, dependent), exchange)
        with self.tally.lock:
            if checks.refused_for_the_model(exchange, dependent):
                named = {problem["field"] for problem in exchange.json["errors"]}
                self.tally.refused_for_model.update(f"{name}={dependent[name]}" for name in sorted(named))
            self.tally.valid_sent += 1
            self.tally.valid_taken += exchange.branch in ("success", "processing") and 200 <= exchange.status < 300
        out.result = self.resolve(exchange, request, out)
        if out.result is not None:
            if self.wants_images is None or self.wants_images(operation, body):
                out.images = load_outputs(self.client, out.result.get("output"), as_base64=request.base64)
            result = Result(self.spec, operation, body, request, out.result, out.images, exchange, inputs or {})
            self.result_checks(result, out, frozenset() if result_checks else DEFAULTS_COVER)
        return out

    def evaluate_invalid(self, body: Any, operation: str = "text2img", field: str | None = None) -> Outcome:
        """Send a body the spec rejects; ``field``, when one field alone breaks it, must be named by a 400."""
        out = Outcome()
        exchange = self.send(body, out, operation=operation)
        out.judge("invalid_rejected", checks.invalid_rejected(exchange), exchange)
        if field is not None and self.runs("invalid_named"):
            out.judge("invalid_named", checks.invalid_named(exchange, field), exchange)
        return out

    def evaluated(self, evaluate: Callable[[Any], Outcome], bodies: list[Any]) -> Iterator[tuple[Any, Outcome]]:
        """Each body with its outcome, in the bodies' order, ``--workers`` requests in flight at once."""
        if self.settings.workers == 1:
            yield from ((body, evaluate(body)) for body in bodies)
            return
        with ThreadPoolExecutor(self.settings.workers, thread_name_prefix="t2i-test") as pool:
            yield from zip(bodies, pool.map(evaluate, bodies))
