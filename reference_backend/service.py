"""The job queue: accept generations, run them on worker threads, answer about them.

``submit`` checks the request against the generator (unknown model, LoRA, ...),
picks the seed when the request left it to chance, and writes the job to the
:class:`~reference_backend.jobs.JobStore` before anything else, so an accepted job
survives a restart. Worker threads take jobs oldest first, run the generator,
upscale if asked, save the PNGs, record the result and send the webhook.
``wait`` lets the HTTP layer answer ``success`` directly when a job ends within
``sync_timeout``.

Stopping is abrupt on purpose, like a crash: a generation still running when
:meth:`JobService.stop` is called is left ``running`` in the store and runs again
after the next start (:meth:`JobStore.recover`); a webhook still being retried
stays ``pending`` and is sent again after the next start.
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any

from .errors import BackendError, GoneError, NotFoundError, QueueFullError
from .features import UPSCALE_FACTOR, UPSCALE_RESAMPLER, field_notes, upscale
from .jobs import Job, JobStore, hash_key
from .responses import webhook_payload
from .storage import ImageStore
from .webhooks import WebhookSender

if TYPE_CHECKING:
    from t2i_contract.spec import Text2ImgRequest

    from .config import BackendConfig
    from .generator import Generator

__all__ = ["DEFAULT_ETA", "JobService"]

log = logging.getLogger(__name__)
DEFAULT_ETA = 5.0
"""Seconds per unit of cost (one 512x512 image, 20 steps) before any job has finished."""
MIN_ETA = 0.5
SEED_LIMIT = 2**32
_IDLE_POLL = 0.5
_SWEEP_EVERY = 60.0
INTERNAL_ERROR = "Internal server error. Please try again."


class JobService:
    def __init__(self, config: BackendConfig, generator: Generator, store: JobStore, images: ImageStore) -> None:
        self.config = config
        self.generator = generator
        self.store = store
        self.images = images
        self.webhooks = WebhookSender(retries=config.webhook_retries, backoff=config.webhook_backoff,
                                      timeout=config.webhook_timeout)
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_sweep = 0.0

    # -- life cycle -----------------------------------------------------------------
    def start(self) -> None:
        recovered = self.store.recover()
        if recovered:
            log.info("re-queued %d generation(s) interrupted by the last shutdown", recovered)
        for job in self.store.undelivered_webhooks():
            self._send_webhook(job)
        for index in range(self.config.workers):
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

    # -- accepting --------------------------------------------------------------------
    def submit(self, request: Text2ImgRequest, base_url: str) -> Job:
        self.generator.check(request)
        limit = self.config.max_queued
        if limit and self.store.waiting(request.key) >= limit:
            raise QueueFullError(limit, self.config.retry_after)
        seed = request.seed if request.seed is not None else secrets.randbelow(SEED_LIMIT)
        webhook_status = "pending" if request.webhook else ""
        job_id = self.store.add(request.with_seed(seed), request.key, seed, base_url, webhook_status)
        with self._changed:
            self._changed.notify_all()
        job = self.store.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: int, key: str, check_owner: bool) -> Job:
        job = self.store.get(job_id)
        if job is None or (check_owner and job.key_hash != hash_key(key)):
            raise NotFoundError(f"Generation not found: {job_id}", field="request_id", value=job_id, rule="exists")
        if job.expires_at is not None and job.expires_at <= time.time():
            raise GoneError(f"The images of generation {job_id} have expired: temp images are kept for "
                            f"{self.config.temp_ttl:g} seconds", field="request_id", value=job_id, rule="expired")
        return job

    def wait(self, job_id: int, timeout: float) -> Job:
        """The job once finished, or as it stands after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                job = self.store.get(job_id)
                assert job is not None
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
        running = self.store.claimed_elapsed(time.time())
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
            result = self.generator.generate(request, job.seed)
            images = result.images
            info: dict[str, Any] = dict(result.info)
            notes = field_notes(request) + list(result.notes)
            if request.upscale:
                images = upscale(images)
                info["upscaler"] = f"Pillow {UPSCALE_RESAMPLER} {UPSCALE_FACTOR}x"
            if self._stopping.is_set():
                return  # as after a crash: the job stays running and is re-queued on the next start
            names = self.images.save(job.id, images)
            info["notes"] = notes
            info["nsfw"] = result.nsfw
            expires_at = time.time() + self.config.temp_ttl if request.temp else None
            self.store.succeed(job.id, names, result.nsfw, info, time.perf_counter() - started, expires_at)
        except BackendError as exc:
            if self._stopping.is_set():
                return
            self.store.fail(job.id, exc.message, exc.status, exc.to_body())
        except Exception:
            if self._stopping.is_set():
                return
            log.exception("generation %d failed", job.id)
            self.store.fail(job.id, INTERNAL_ERROR, 500)
        with self._changed:
            self._changed.notify_all()
        if request.webhook:
            finished = self.store.get(job.id)
            assert finished is not None
            self._send_webhook(finished)

    def _send_webhook(self, job: Job) -> None:
        assert job.request.webhook is not None
        self.webhooks.send(job.request.webhook, webhook_payload(job, self.images),
                           lambda status, job_id=job.id: self._webhook_done(job_id, status))

    def _webhook_done(self, job_id: int, status: str) -> None:
        if not self._stopping.is_set():
            self.store.set_webhook_status(job_id, status)

    def _sweep(self) -> None:
        now = time.time()
        if now - self._last_sweep < min(_SWEEP_EVERY, self.config.temp_ttl):
            return
        self._last_sweep = now
        for job in self.store.expired(now):
            self.images.delete(job.images)
            self.store.clear_images(job.id)
