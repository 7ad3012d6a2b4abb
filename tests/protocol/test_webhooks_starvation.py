"""Receivers that never answer cannot starve the others: a share of the delivery pool per client and address.

Judged by ordering, never by time: the slow receivers' posts block on an event the test
only sets at the end, so a normal delivery that arrives at all arrived while every slow
one was still held.
"""
from __future__ import annotations

import threading
from typing import Any

from t2i_contract.protocol import ManualClock, WebhookSender
from t2i_contract.protocol.webhooks import delivered
from tests.support import wait_for

SLOW_JOBS = 20
NORMAL_JOB = 99
THREADS = 8
TIMEOUT = 60.0  # polling deadline: generous, never a claim about speed


class Receivers:
    """Jobs below NORMAL_JOB post to slow.example, which holds every post until ``release``."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.normal = threading.Event()
        self.lock = threading.Lock()
        self.held = 0
        self.statuses: dict[int, str] = {}

    def webhook_target(self, job_id: int) -> tuple[str, dict[str, Any]] | None:
        host = "normal.example" if job_id == NORMAL_JOB else "slow.example"
        return f"http://{host}:{8000 + job_id}/hook", {"id": job_id}

    def record_webhook_status(self, job_id: int, status: str) -> None:
        with self.lock:
            self.statuses[job_id] = status

    def webhook_client(self, job_id: int) -> str:
        """The slow receivers are one client's; the normal one another's."""
        return "normal-client" if job_id == NORMAL_JOB else "slow-client"

    def post(self, url: str, payload: dict[str, Any], deadline: float) -> int:
        if "normal.example" in url:
            self.normal.set()
            return 200
        with self.lock:
            self.held += 1
        self.release.wait(TIMEOUT)
        return 200


def _run(per_host: int | None, per_client: int | None = None) -> tuple[Receivers, WebhookSender]:
    receivers = Receivers()
    sender = WebhookSender(receivers, attempts=1, backoff=1.0, timeout=5.0, clock=ManualClock(),
                           post=receivers.post, threads=THREADS, per_host=per_host, per_client=per_client)
    for job in range(SLOW_JOBS):
        sender.schedule(job)
    return receivers, sender


def _normal_one_passes_the_held(receivers: Receivers, sender: WebhookSender, held: int) -> None:
    """Once ``held`` slow posts are held, the normal job is delivered meanwhile; then every one settles."""
    try:
        wait_for(lambda: receivers.held == held, timeout=TIMEOUT)
        sender.schedule(NORMAL_JOB)
        assert receivers.normal.wait(TIMEOUT), "the normal webhook waited behind the slow receivers"
        assert not receivers.release.is_set() and receivers.held == held < THREADS
    finally:
        receivers.release.set()
    try:
        wait_for(lambda: len(receivers.statuses) == SLOW_JOBS + 1, timeout=TIMEOUT)
    finally:
        sender.close()
    assert set(receivers.statuses.values()) == {delivered(200, 1, 1)}, "a held-back delivery was lost"


def test_slow_receivers_on_one_host_leave_threads_for_the_others() -> None:
    receivers, sender = _run(per_host=None)
    _normal_one_passes_the_held(receivers, sender, sender.per_host)


def test_without_the_cap_the_slow_receivers_fill_every_thread() -> None:
    """Guard: the scenario does starve a pool with no per-host cap (every thread held, the normal one not sent)."""
    receivers, sender = _run(per_host=THREADS, per_client=THREADS)
    try:
        wait_for(lambda: receivers.held == THREADS, timeout=TIMEOUT)
        sender.schedule(NORMAL_JOB)
        assert not receivers.normal.is_set()  # every delivery thread is held: nothing can have sent it
    finally:
        receivers.release.set()
        sender.close()


def test_one_clients_slow_receivers_on_many_hosts_hold_only_its_share() -> None:
    """Issue 18, item 4: spreading the slow receivers over many hosts does not take more of the pool."""

    class Spread(Receivers):
        def webhook_target(self, job_id: int) -> tuple[str, dict[str, Any]] | None:
            host = "normal.example" if job_id == NORMAL_JOB else f"slow-{job_id % 8}.example"
            return f"http://{host}:{8000 + job_id}/hook", {"id": job_id}

    receivers = Spread()
    sender = WebhookSender(receivers, attempts=1, backoff=1.0, timeout=5.0, clock=ManualClock(),
                           post=receivers.post, threads=THREADS)
    for job in range(SLOW_JOBS):
        sender.schedule(job)
    _normal_one_passes_the_held(receivers, sender, sender.per_client)
