"""Webhook delivery on a manual clock, and the webhook_status words held to the spec's pattern."""
from __future__ import annotations

import re
import threading
from typing import Any

import pytest

from t2i_contract.protocol import ManualClock, WebhookSender, initial_status, unsettled
from t2i_contract.protocol.webhooks import delivered, failed, next_attempt, retrying
from t2i_contract.spec import load_spec
from tests.support import wait_for

PATTERN = re.compile(load_spec().schema("WebhookStatus")["pattern"])


@pytest.mark.parametrize("status", [
    initial_status(None), initial_status("http://x/hook"), retrying(1, 3, "HTTP 500"),
    retrying(2, 3, "ConnectionError"), delivered(200, 3, 3), delivered(204, 1, 1), failed(3, "HTTP 503"),
], ids=["none", "pending", "retrying-http", "retrying-network", "delivered", "delivered-204", "failed"])
def test_every_status_the_sender_writes_matches_the_spec(status: str) -> None:
    assert PATTERN.fullmatch(status)


@pytest.mark.parametrize("status", ["", "delivered (HTTP 200, attempt 3 of 4)", "failed after 2 attempts (last: HTTP 500)",
                                    "delivered (HTTP 500 on attempt 1 of 3)"],
                         ids=["empty", "old-backend-delivered", "old-backend-failed", "delivered-non-2xx"])
def test_the_pattern_refuses_other_words(status: str) -> None:
    assert not PATTERN.fullmatch(status)


def test_unsettled_statuses_resume_at_the_next_attempt() -> None:
    assert unsettled("pending") and unsettled(retrying(2, 3, "HTTP 500"))
    assert not unsettled("none") and not unsettled(delivered(200, 1, 3)) and not unsettled(failed(3, "x"))
    assert next_attempt("pending") == 1 and next_attempt(retrying(2, 3, "HTTP 500")) == 3


class Source:
    def __init__(self) -> None:
        self.statuses: list[str] = []
        self.lock = threading.Lock()

    def webhook_target(self, job_id: int) -> tuple[str, dict[str, Any]] | None:
        return ("http://receiver/hook", {"id": job_id}) if job_id != 0 else None

    def record_webhook_status(self, job_id: int, status: str) -> None:
        with self.lock:
            self.statuses.append(status)


def test_retries_back_off_on_the_clock_and_stop_at_the_attempts() -> None:
    clock, source = ManualClock(), Source()
    posts: list[float] = []

    def post(url: str, payload: dict[str, Any], timeout: float) -> int:
        posts.append(clock.now())
        return 500

    sender = WebhookSender(source, attempts=3, backoff=1.0, timeout=5.0, clock=clock, post=post)
    start = clock.now()
    sender.schedule(7)
    try:
        wait_for(lambda: sender.next_due() == start + 1.0, timeout=60)
        clock.advance(1.0)
        wait_for(lambda: sender.next_due() == start + 3.0, timeout=60)  # 1 s, then doubled
        clock.advance(2.0)
        wait_for(lambda: len(source.statuses) == 3, timeout=60)
    finally:
        sender.close()
    assert posts == [start, start + 1.0, start + 3.0]
    assert source.statuses == [retrying(1, 3, "HTTP 500"), retrying(2, 3, "HTTP 500"), failed(3, "HTTP 500")]
    assert sender.next_due() is None


def test_a_network_error_is_named_and_nothing_is_recorded_after_close() -> None:
    clock, source = ManualClock(), Source()

    def post(url: str, payload: dict[str, Any], timeout: float) -> int:
        raise ConnectionError("refused")

    sender = WebhookSender(source, attempts=2, backoff=1.0, timeout=5.0, clock=clock, post=post)
    sender.schedule(1)
    wait_for(lambda: source.statuses, timeout=60)
    sender.close()
    clock.advance(10.0)
    assert source.statuses == [retrying(1, 2, "ConnectionError")]  # left unsettled for the next start
