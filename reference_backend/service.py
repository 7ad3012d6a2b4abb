"""The backend's side of the protocol seam: a job queue that makes images with a generator.

:class:`JobService` is the backend's :class:`~t2i_contract.protocol.Service`; the
protocol layer does intake, validation, answers and errors. ``submit`` checks the
request against the generator (unknown model, LoRA, ...), picks the seed when the
request left it to chance, and writes the job to the
:class:`~reference_backend.jobs.JobStore` before anything else, so an accepted job
survives a restart; it then waits up to ``sync_timeout`` for the result unless the
client asked for an asynchronous answer (``Prefer: respond-async``). Worker threads
take jobs oldest first, run the generator, upscale if asked, save the PNGs, record
the result and hand the webhook to the shared sender.

Stopping is abrupt on purpose, like a crash: a generation still running when
:meth:`JobService.stop` is called is left ``running`` in the store and runs again
after the next start (:meth:`JobStore.recover`); a webhook still pending or between
retries keeps that status and is sent again after the next start.
"""
from __future__ import annotations

import hmac
import logging
import threading
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from t2i_contract.protocol import (
    STATUS_MESSAGES,
    Call,
    Clock,
    InternalError,
    JobView,
    NotFound,
    QueueFull,
    Service,
    SystemClock,
    WebhookSender,
    initial_status,
)
from t2i_contract.protocol.outbound import json_poster
from t2i_contract.protocol.webhooks import address_of
from t2i_contract.protocol.urls import UrlPolicy, allows_private
from t2i_contract.spec import load_spec
from t2i_contract.wire.answers import FAILED as VIEW_FAILED
from t2i_contract.wire.answers import PROCESSING, answers_for, with_server_info
from t2i_contract.wire.answers import SUCCESS as VIEW_SUCCESS
from t2i_contract.wire.seeds import seed_range

from .errors import BackendError
from .features import UPSCALE_FACTOR, UPSCALE_RESAMPLER, field_notes, upscale
from .jobs import FAILED, SUCCESS, Job, JobStore
from .operations import decode_inputs
from .storage import ImageStore

if TYPE_CHECKING:
    from t2i_contract.spec import FetchRequest, GenerationRequest, ModelReloadRequest

    from .config import BackendConfig
    from .generator import Generator

__all__ = ["DEFAULT_ETA", "TIP", "JobService"]

log = logging.getLogger(__name__)
DEFAULT_ETA = 5.0
"""Seconds per unit of cost (one 512x512 image, 20 steps) before any job has finished."""
MIN_ETA = 0.5
_IDLE_POLL = 0.5
_SWEEP_EVERY = 60.0
INTERNAL_ERROR = STATUS_MESSAGES[500]
TIP = "This is a self-hosted reference backend: images are made locally with diffusers."


class JobService(Service):
    def __init__(self, config: BackendConfig, generator: Generator, store: JobStore, images: ImageStore,
                 clock: Clock | None = None) -> None:
        self.config = config
        self.generator = generator
        self.store = store
        self.images = images
        self.clock = clock or SystemClock()
        self.spec = load_spec()
        self.answers = answers_for(self.spec)
        # a server beside other services must not post to them for anyone: private targets need a flag
        self.url_policy = UrlPolicy(allow_private=allows_private(config.private_urls), allow=tuple(config.url_allow),
                                    deadline=config.webhook_timeout)
        self.webhooks = WebhookSender(self, attempts=config.webhook_attempts, backoff=config.webhook_backoff,
                                      timeout=config.webhook_timeout, clock=self.clock,
                                      post=json_poster(self.url_policy),
                                      resolve=address_of(self.url_policy))  # shares per client and address
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_sweep = 0.0
        self._reloads: dict[str, tuple[Future[float], float]] = {}
        self._load_seconds: dict[str, float] = {}

    # -- life cycle -----------------------------------------------------------------
    def start(self) -> None:
        recovered = self.store.recover()
        if recovered:
            log.info("re-queued %d generation(s) interrupted by the last shutdown", recovered)
        for job in self.store.undelivered_webhooks():
            self.webhooks.resume(job.id, job.webhook_status)
        self._evict()  # a bound lowered between runs holds at once
        for index in range(self.config.generation_threads):
            thread = threading.Thread(target=self._work, name=f"t2i-worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self.webhooks.close()
        self.store.close()
        self.generator.close()

    # -- the protocol seam ----------------------------------------------------------------
    def submit(self, call: Call, request: GenerationRequest) -> JobView:
        job = self.enqueue(request, call.base_url, call.input_data)  # stored as sent; never fetched again
        if not call.prefs.wants_async:
            job = self.wait(job.id, self.config.sync_timeout)
        return self.view(job, call.base_url)

    def fetch(self, call: Call, request: FetchRequest) -> JobView:
        job = self.get(request.request_id, request.key, check_owner=bool(self.config.keys))
        return self.view(job, call.base_url)

    def view(self, job: Job, base_url: str) -> JobView:
        """What a client may see of ``job``, links built on ``base_url``."""
        request = job.request
        names = job.images or [self.images.name(job.id, index) for index in range(request.samples)]
        links = [f"{base_url}/images/{name}" for name in names]
        state = {SUCCESS: VIEW_SUCCESS, FAILED: VIEW_FAILED}.get(job.state, PROCESSING)
        meta = request.to_meta() | {"seed": job.seed}
        if job.state == SUCCESS:
            meta = with_server_info(meta, job.info)

        def output() -> list[str]:
            return [self.images.base64(name) for name in job.images] if request.base64 else links

        return JobView(
            id=job.id, state=state, meta=meta, links=links, fetch_base=base_url, tip=TIP,
            webhook_status=job.webhook_status, track_id=request.track_id,
            eta=self.eta(job) if state == PROCESSING else 0.0, generation_time=job.generation_time or 0.0,
            nsfw=any(job.nsfw), output=output, error=job.info if job.state == FAILED else None,
            error_status=job.error_status or 500,
        )

    # -- accepting --------------------------------------------------------------------
    def check(self, call: Call, request: GenerationRequest) -> None:
        self.generator.check(request)

    def enqueue(self, request: GenerationRequest, base_url: str, inputs: dict[str, bytes] | None = None) -> Job:
        self.generator.check(request)
        limit = self.config.max_queued
        seed = request.seed if request.seed is not None else seed_range(self.spec, request.OPERATION).pick()
        job_id = self.store.add(request.with_seed(seed), request.key, seed, base_url,
                                initial_status(request.webhook), max_waiting=limit, inputs=inputs)
        if job_id is None:
            raise QueueFull(limit, self.config.retry_after)
        with self._changed:
            self._changed.notify_all()
        job = self.store.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: int, key: str, check_owner: bool) -> Job:
        job = self.store.get(job_id)
        if job is None or (check_owner and not hmac.compare_digest(job.key_hash, self.store.key_digest(key))):
            raise NotFound.generation(job_id)
        if job.expires_at is not None and job.expires_at <= self.clock.now():
            raise NotFound.generation(job_id, f"its images have expired: temp images are kept for "
                                              f"{self.config.temp_ttl:g} seconds", rule="expired")
        return job

    def wait(self, job_id: int, timeout: float) -> Job:
        """The job once finished, or as it stands after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                job = self.store.get(job_id)
                if job is None:  # dropped under --max-store-bytes by a later job finishing (several workers)
                    raise NotFound.generation(job_id)
                remaining = deadline - time.monotonic()
                if job.finished or remaining <= 0 or self._stopping.is_set():
                    return job
                self._changed.wait(min(remaining, _IDLE_POLL))

    def eta(self, job: Job) -> float:
        """Seconds until ``job`` is done: the queued work up to it, at the recent pace.

        The pace is measured per unit of cost (pixels x steps x samples), so a big job
        behind small ones is not promised a small job's time. Never below MIN_ETA while
        the job is unfinished.
        """
        pace = self.store.seconds_per_cost() or DEFAULT_ETA
        running = self.store.claimed_elapsed(self.clock.now())
        return max(pace * self.store.work_until(job.id) - running, MIN_ETA)

    # -- working ------------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                job = self.store.claim()
            except Exception:  # the store was closed under us while stopping
                if self._stopping.is_set():
                    return
                raise
            if job is None:
                self._sweep()
                with self._changed:
                    self._changed.wait(_IDLE_POLL)
                continue
            self._run(job)

    def _run(self, job: Job) -> None:
        request = job.request
        started = time.perf_counter()
        try:
            self.generator.prepare(request.model_id)  # a model's load is not generation pace (ETAs): timed apart
            started = time.perf_counter()
            # inputs only when there are some: generators written for text2img take (request, seed)
            inputs = (decode_inputs(job.inputs),) if job.inputs else ()
            result = self.generator.generate(request, job.seed, *inputs)
            images = result.images
            info: dict[str, Any] = dict(result.info)
            notes = field_notes(request) + list(result.notes)
            if getattr(request, "upscale", False):
                images = upscale(images)
                info["upscaler"] = f"Pillow {UPSCALE_RESAMPLER} {UPSCALE_FACTOR}x"
            if self._stopping.is_set():
                return  # as after a crash: the job stays running and is re-queued on the next start
            names = self.images.save(job.id, images)
            info["notes"] = notes
            info["nsfw"] = result.nsfw
            expires_at = self.clock.now() + self.config.temp_ttl if request.temp else None
            self.store.succeed(job.id, names, result.nsfw, info, time.perf_counter() - started, expires_at,
                               image_bytes=self.images.size(names))
        except BackendError as exc:
            if self._stopping.is_set():
                return
            self.store.fail(job.id, exc.message, exc.status, exc.to_body())
        except Exception:
            if self._stopping.is_set():
                return
            log.exception("generation %d failed", job.id)
            self.store.fail(job.id, INTERNAL_ERROR, 500, InternalError(INTERNAL_ERROR).to_body())
        self._evict()  # before the waiters wake: a synchronous answer finds the store within its bound
        with self._changed:
            self._changed.notify_all()
        if request.webhook:
            self.webhooks.schedule(job.id)

    # -- model_reload ----------------------------------------------------------------
    def reload_model(self, call: Call, request: ModelReloadRequest) -> dict[str, Any]:
        """Load the model again, in the background; wait up to ``sync_timeout`` for it (unless respond-async).

        A reload in progress is waited on, not started again; its outcome is reported
        once, to the next call, so a client that got ``processing`` sees ``success``.
        """
        model_id = request.model_id
        self.generator.check_model(model_id)
        with self._changed:
            future, started = self._reloads.get(model_id) or (None, 0.0)
            if future is None:
                future, started = Future(), time.monotonic()
                self._reloads[model_id] = (future, started)
                threading.Thread(target=self._reload, args=(model_id, future), name=f"t2i-reload-{model_id}",
                                 daemon=True).start()
        if not call.prefs.wants_async:
            try:
                future.exception(timeout=self.config.sync_timeout)
            except TimeoutError:
                pass
        if not future.done():
            expected = self._load_seconds.get(model_id, DEFAULT_ETA)
            return self.answers.reload(PROCESSING, f"Model {model_id} is loading; call model_reload again to "
                                       "see it ready", eta=round(max(expected - (time.monotonic() - started), MIN_ETA), 2))
        with self._changed:
            self._reloads.pop(model_id, None)
        error = future.exception()
        if error is not None:  # documented as an answer: status "error", in words
            return self.answers.reload(VIEW_FAILED, getattr(error, "message", None) or str(error))
        return self.answers.reload(VIEW_SUCCESS, f"Model {model_id} is loaded ({future.result():.2f} s)")

    def _reload(self, model_id: str, future: Future[float]) -> None:
        started = time.perf_counter()
        try:
            self.generator.load(model_id)
        except Exception as exc:
            if not isinstance(exc, BackendError):
                log.exception("reloading model %s failed", model_id)
            future.set_exception(exc)
            return
        self._load_seconds[model_id] = elapsed = time.perf_counter() - started
        future.set_result(elapsed)

    # -- what contract packs ask (protocol.generic) -----------------------------------------
    def default_model(self) -> str:
        """The first model this server holds (a pack's request that names none gets it)."""
        held = self.models(None)  # type: ignore[arg-type]
        return held[0] if held else "default"

    def settle(self, call: Call, view: JobView) -> JobView:
        """The job once finished: a synchronous contract's answer is its result."""
        return self.view(self.wait(view.id, float("inf")), call.base_url)

    def models(self, call: Call) -> list[str]:
        from .page import available

        return available(self.config)["models"]

    def progress(self, call: Call) -> tuple[float, float]:
        """(0, 0) when idle; while jobs wait or run, (0, the seconds their work takes at the recent pace)."""
        if not self.store.waiting():
            return 0.0, 0.0
        pace = self.store.seconds_per_cost() or DEFAULT_ETA
        return 0.0, round(self.store.work_until(2**62) * pace, 2)

    # -- webhooks (protocol.WebhookSource) -----------------------------------------------
    def webhook_target(self, job_id: int) -> tuple[str, dict[str, Any]] | None:
        job = self.store.get(job_id)
        if job is None or not job.finished or not job.request.webhook:
            return None
        return job.request.webhook, self.answers.webhook(self.view(job, job.base_url))

    def record_webhook_status(self, job_id: int, status: str) -> None:
        if not self._stopping.is_set():
            self.store.set_webhook_status(job_id, status)

    def webhook_client(self, job_id: int) -> str | None:
        """Whose delivery this is (its key's digest): one client's slow receivers delay only its own."""
        job = self.store.get(job_id)
        return job.key_hash if job is not None else None

    def _evict(self) -> None:
        """Keep the jobs and their images within ``--max-store-bytes``: drop finished ones, oldest first."""
        self.images.delete(self.store.evict(self.config.max_store_bytes))

    def _sweep(self) -> None:
        now = self.clock.now()
        if now - self._last_sweep < min(_SWEEP_EVERY, self.config.temp_ttl):
            return
        self._last_sweep = now
        for job in self.store.expired(now):
            self.images.delete(job.images)
            self.store.clear_images(job.id)
