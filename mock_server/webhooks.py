"""Deliver the completion payload to a request's ``webhook`` URL, off the request thread.

:class:`WebhookSender` owns one daemon scheduler thread per process, started on first
use (so it is born inside each gunicorn worker, never before the fork), and a small
pool of delivery threads, so one slow receiver does not hold up the others. Jobs
are scheduled for the moment they become ready; each delivery is a POST of the spec's
``WebhookSuccess`` payload. A non-2xx answer or a network error is retried with
exponential backoff (``backoff``, ``2 * backoff``, ...) up to ``attempts`` tries in
all. Every step is written to the job's ``webhook_status``, which fetch reports:

    pending -> delivered (HTTP 200 on attempt 1 of 3)
    pending -> retrying after attempt 1 of 3: HTTP 500 -> ... -> failed after 3 attempts: HTTP 500
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import requests

from .store import Job, JobStore

__all__ = ["WebhookSender"]

log = logging.getLogger(__name__)

PayloadBuilder = Callable[[Job], dict[str, Any]]
DELIVERY_THREADS = 8


class WebhookSender:
    def __init__(self, store: JobStore, payload: PayloadBuilder, *, attempts: int, backoff: float,
                 timeout: float) -> None:
        self.store = store
        self.payload = payload
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self._queue: list[tuple[float, int, int, int]] = []
        self._order = itertools.count()
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._pool: ThreadPoolExecutor | None = None

    def schedule(self, job: Job) -> None:
        """Deliver ``job``'s payload once it is ready (at once if it already is)."""
        self._push(job.ready_at, job.id, 1)

    def _push(self, due: float, job_id: int, attempt: int) -> None:
        with self._cv:
            if self._stopped:
                return
            heapq.heappush(self._queue, (due, next(self._order), job_id, attempt))
            if self._thread is None or not self._thread.is_alive():
                self._pool = ThreadPoolExecutor(max_workers=DELIVERY_THREADS, thread_name_prefix="t2i-mock-webhook")
                self._thread = threading.Thread(target=self._run, name="t2i-mock-webhooks", daemon=True)
                self._thread.start()
            self._cv.notify()

    def close(self, timeout: float = 2.0) -> None:
        """Stop the thread; deliveries not yet made are dropped."""
        with self._cv:
            self._stopped = True
            self._cv.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stopped and (not self._queue or self._queue[0][0] > time.time()):
                    wait = self._queue[0][0] - time.time() if self._queue else None
                    self._cv.wait(wait)
                if self._stopped:
                    return
                _, _, job_id, attempt = heapq.heappop(self._queue)
                assert self._pool is not None
                self._pool.submit(self._deliver_safely, job_id, attempt)

    def _deliver_safely(self, job_id: int, attempt: int) -> None:
        try:
            self._deliver(job_id, attempt)
        except Exception:  # never let one bad job stop deliveries for the others
            log.exception("webhook delivery for job %s failed unexpectedly", job_id)

    def _deliver(self, job_id: int, attempt: int) -> None:
        job = self.store.get_job(job_id)
        if job is None or not job.webhook:
            return
        try:
            response = requests.post(job.webhook, json=self.payload(job), timeout=self.timeout,
                                     headers={"User-Agent": "t2i-mock-webhook"})
            outcome, ok = f"HTTP {response.status_code}", 200 <= response.status_code < 300
        except requests.RequestException as exc:
            outcome, ok = f"{type(exc).__name__}", False
        if ok:
            self.store.set_webhook_status(job_id, f"delivered ({outcome} on attempt {attempt} of {self.attempts})")
        elif attempt < self.attempts:
            self.store.set_webhook_status(job_id, f"retrying after attempt {attempt} of {self.attempts}: {outcome}")
            self._push(time.time() + self.backoff * 2 ** (attempt - 1), job_id, attempt + 1)
        else:
            self.store.set_webhook_status(job_id, f"failed after {self.attempts} attempts: {outcome}")
