"""Webhook delivery for every server: retries with backoff, and the one ``webhook_status`` vocabulary.

The vocabulary is written into the spec (``WebhookStatus``: its ``pattern`` and
``x-t2i-webhook-status``); the functions here are the only place that formats it::

    none                                        no webhook was asked for
    pending                                     asked for, not attempted yet
    retrying after attempt 1 of 3: HTTP 500     an attempt failed, another will follow
    delivered (HTTP 200 on attempt 2 of 3)      a 2xx answer
    failed after 3 attempts: ConnectionError    every attempt failed

:class:`WebhookSender` owns one scheduler thread (started on first use, so it is
born inside each server worker, never before a fork) and a small pool of delivery
threads, so one slow receiver does not hold up the others. Three things keep slow or
hostile receivers from starving the rest: every attempt has one total deadline
(connect plus the whole answer, ``outbound.json_poster``); at most ``per_client``
deliveries of one client (the API key that made the job, as the source tells it:
:meth:`WebhookSource.webhook_client`) run at once, a quarter of the pool by default;
and of those at most ``per_host`` go to one *resolved address* (``resolve``: the URL
policy's answer, so ``127.1``, ``0x7f000001`` and ``localhost`` are one address, as
are an attacker's many names for one host). A delivery over a limit waits in one
line, which frees the thread at once; a finished delivery starts the oldest waiting
one whose limits allow it. So one client's receivers that never answer hold at most
``per_client`` threads, for at most the deadline each, whatever spellings or names
it uses, and delay only that client's own deliveries. Deliveries are due at a
time on an injected :class:`~t2i_contract.protocol.clock.Clock`; a failed attempt
is retried after ``backoff``, ``2 * backoff``, ... up to ``attempts`` tries in all.
Every post goes through the URL policy (``outbound.json_poster``). The server supplies a :class:`WebhookSource`: where to post for a job and what,
and where to record the status. After :meth:`WebhookSender.close` nothing more is
recorded, so a job caught mid-retry keeps its unsettled status and a server with a
persistent store sends it again after its next start (:func:`unsettled`).
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Protocol
from urllib.parse import urlsplit

from .clock import Clock, SystemClock
from .outbound import json_poster
from .urls import UrlPolicy

__all__ = ["NONE", "PENDING", "PostFunction", "WebhookSender", "WebhookSource", "address_of", "delivered", "failed",
           "initial_status", "retrying", "unsettled"]

log = logging.getLogger(__name__)

NONE = "none"
PENDING = "pending"
RETRYING_PREFIX = "retrying after attempt"
USER_AGENT = "t2i-contract-webhook"
DEFAULT_THREADS = 8


@dataclass(frozen=True, eq=False)
class _Held:
    """A delivery and the shares it counts against: its client's, and its client's at one address."""

    job_id: int
    attempt: int
    url: str
    payload: dict[str, Any]
    client: tuple[str, ...]
    host: tuple[str, ...]


def _host_of(url: str) -> str:
    """The host as written: the fallback when no URL policy resolves it."""
    return (urlsplit(url).hostname or "").lower()


def address_of(policy: UrlPolicy) -> Callable[[str], str]:
    """``resolve`` for :class:`WebhookSender`: the first address ``policy`` checks ``url``'s host to."""

    def resolve(url: str) -> str:
        return policy.check(url).addresses[0]

    return resolve


def initial_status(webhook: str | None) -> str:
    return PENDING if webhook else NONE


def retrying(attempt: int, attempts: int, reason: str) -> str:
    return f"{RETRYING_PREFIX} {attempt} of {attempts}: {reason}"


def delivered(status_code: int, attempt: int, attempts: int) -> str:
    return f"delivered (HTTP {status_code} on attempt {attempt} of {attempts})"


def failed(attempts: int, reason: str) -> str:
    return f"failed after {attempts} attempts: {reason}"


def unsettled(status: str) -> bool:
    """Whether a delivery with this status still has to be made (pending, or between retries)."""
    return status == PENDING or status.startswith(RETRYING_PREFIX)


def next_attempt(status: str) -> int:
    """The attempt a restarted server makes next for an unsettled status."""
    if status.startswith(RETRYING_PREFIX):
        number = status[len(RETRYING_PREFIX):].split(" of ", 1)[0].strip()
        return int(number) + 1 if number.isdigit() else 1
    return 1


class WebhookSource(Protocol):
    """What a server's storage tells the sender."""

    def webhook_target(self, job_id: int) -> tuple[str, dict[str, Any]] | None:
        """The URL and payload to post for ``job_id``, or None when there is nothing to send."""

    def record_webhook_status(self, job_id: int, status: str) -> None:
        """Store the job's new ``webhook_status``."""

    # Optional: ``webhook_client(job_id) -> str | None``, who made the job (a digest of its
    # key); a source without it puts every delivery in one client's share.


PostFunction = Callable[[str, dict[str, Any], float], int]
"""``post(url, payload, deadline)``: the HTTP status; raises on a network error or a refused URL.
Servers pass ``outbound.json_poster(policy)``: the URL policy, one total deadline, no redirects."""


class WebhookSender:
    def __init__(self, source: WebhookSource, *, attempts: int, backoff: float, timeout: float,
                 clock: Clock | None = None, post: PostFunction | None = None,
                 threads: int = DEFAULT_THREADS, per_host: int | None = None, per_client: int | None = None,
                 resolve: Callable[[str], str] | None = None) -> None:
        if attempts < 1:
            raise ValueError(f"webhook attempts must be 1 or more, got {attempts}")
        self.source = source
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self.clock = clock or SystemClock()
        self.post = post or json_poster(UrlPolicy(deadline=timeout), user_agent=USER_AGENT)
        self.threads = threads
        self.per_client = per_client or max(1, threads // 4)
        self.per_host = min(per_host or self.per_client, self.per_client)
        self.resolve = resolve or _host_of
        self._active: dict[tuple[str, ...], int] = {}  # deliveries running, per (client,) and (client, address)
        self._waiting: deque[_Held] = deque()  # deliveries over a limit, oldest first
        self._hosts = threading.Lock()
        self._queue: list[tuple[float, int, int, int]] = []
        self._order = itertools.count()
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._stopped = False

    def schedule(self, job_id: int, due: float | None = None, attempt: int = 1) -> None:
        """Deliver ``job_id``'s payload at ``due`` on the clock (at once when None)."""
        with self._cv:
            if self._stopped:
                return
            when = self.clock.now() if due is None else due
            heapq.heappush(self._queue, (when, next(self._order), job_id, attempt))
            if self._thread is None or not self._thread.is_alive():
                self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="t2i-webhook")
                self._thread = threading.Thread(target=self._run, name="t2i-webhooks", daemon=True)
                self._thread.start()
            self._cv.notify()

    def next_due(self) -> float | None:
        """When the next delivery is due on the clock, or None when none is waiting."""
        with self._cv:
            return self._queue[0][0] if self._queue else None

    def resume(self, job_id: int, status: str, due: float | None = None) -> None:
        """After a restart: continue an unsettled delivery where it stopped (at ``due``, or at once)."""
        if unsettled(status):
            self.schedule(job_id, due, attempt=min(next_attempt(status), self.attempts))

    def close(self, timeout: float = 2.0) -> None:
        """Stop at once; deliveries not yet made are dropped and their status is left as it was."""
        with self._cv:
            self._stopped = True
            self._cv.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stopped and (not self._queue or self._queue[0][0] > self.clock.now()):
                    self.clock.wait(self._cv, self._queue[0][0] if self._queue else None)
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

    def _record(self, job_id: int, status: str) -> None:
        if not self._stopped:
            self.source.record_webhook_status(job_id, status)

    def _deliver(self, job_id: int, attempt: int) -> None:
        if self._stopped:
            return
        target = self.source.webhook_target(job_id)
        if target is None:
            return
        url, payload = target
        whose = getattr(self.source, "webhook_client", None)
        client = (whose(job_id) if whose is not None else None) or ""
        try:
            address = self.resolve(url)
        except Exception:  # a URL the policy refuses: the attempt itself fails at once, and says why
            address = url
        held = _Held(job_id, attempt, url, payload, (client,), (client, address))
        with self._hosts:
            if not self._fits(held):  # wait in the line, not in a thread
                self._waiting.append(held)
                return
            self._take(held)
        self._run_held(held)

    def _fits(self, held: _Held) -> bool:
        return (self._active.get(held.client, 0) < self.per_client
                and self._active.get(held.host, 0) < self.per_host)

    def _take(self, held: _Held) -> None:
        for key in (held.client, held.host):
            self._active[key] = self._active.get(key, 0) + 1

    def _run_held(self, held: _Held) -> None:
        try:
            self._attempt(held.job_id, held.attempt, held.url, held.payload)
        finally:
            self._release(held)

    def _release(self, held: _Held) -> None:
        """One delivery ended: start the oldest waiting ones whose limits now allow them."""
        starting = []
        with self._hosts:
            for key in (held.client, held.host):
                self._active[key] -= 1
                if not self._active[key]:
                    del self._active[key]
            for waiting in list(self._waiting):
                if self._fits(waiting):
                    self._waiting.remove(waiting)
                    self._take(waiting)
                    starting.append(waiting)
        for following in starting:
            if self._pool is None or self._stopped:
                return
            try:
                self._pool.submit(self._run_held_safely, following)
            except RuntimeError:  # the pool was shut down meanwhile: its status stays unsettled
                return

    def _run_held_safely(self, held: _Held) -> None:
        try:
            self._run_held(held)
        except Exception:
            log.exception("webhook delivery for job %s failed unexpectedly", held.job_id)

    def _attempt(self, job_id: int, attempt: int, url: str, payload: dict[str, Any]) -> None:
        try:
            code = self.post(url, payload, self.timeout)
            outcome, ok = f"HTTP {code}", 200 <= code < 300
        except Exception as exc:  # a network error, or a URL the policy refused
            outcome, ok, code = type(exc).__name__, False, 0
        if ok:
            self._record(job_id, delivered(code, attempt, self.attempts))
        elif attempt < self.attempts:
            log.info("webhook for job %s: attempt %d of %d failed: %s", job_id, attempt, self.attempts, outcome)
            self._record(job_id, retrying(attempt, self.attempts, outcome))
            self.schedule(job_id, self.clock.now() + self.backoff * 2 ** (attempt - 1), attempt + 1)
        else:
            self._record(job_id, failed(self.attempts, outcome))
