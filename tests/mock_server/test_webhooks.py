"""Webhooks over real HTTP, received by a listener the test starts; time is a manual clock."""
from __future__ import annotations

import threading
from typing import Any, Callable

import pytest

from t2i_contract.protocol import ManualClock
from t2i_contract.spec import load_spec
from tests.mock_server.conftest import MockClient
from tests.support import WebhookListener, wait_for


def _status(mock: MockClient, job_id: int, word: str) -> str:
    return wait_for(lambda: word in (s := mock.fetch(job_id).json()["webhook_status"]) and s, timeout=60)


def test_webhook_receives_the_completion_payload(mock: MockClient, body: dict[str, Any]) -> None:
    with WebhookListener() as listener:
        answer = mock.text2img(body | {"webhook": listener.url, "track_id": "order-17"}).json()
        assert answer["webhook_status"] == "pending"
        payload = listener.wait(1, timeout=60)[0]["json"]
    assert load_spec().responses.check_webhook(payload) == []
    assert payload["status"] == "success"
    assert payload["id"] == answer["id"]
    assert payload["output"] == answer["output"]
    assert payload["track_id"] == "order-17"
    assert payload["meta"] == answer["meta"]
    assert payload["generationTime"] == answer["generationTime"]
    assert _status(mock, answer["id"], "delivered") == "delivered (HTTP 200 on attempt 1 of 3)"


def test_webhook_for_a_processing_job_fires_once_it_is_ready(make_mock: Callable[..., MockClient],
                                                            body: dict[str, Any]) -> None:
    clock = ManualClock()
    mock = make_mock(clock=clock)
    with WebhookListener() as listener:
        answer = mock.text2img(body | {"webhook": listener.url}, headers={"Prefer": "eta=0.5"}).json()
        assert answer["status"] == "processing"
        assert mock.runtime.webhooks.next_due() == clock.now() + 0.5  # due when the job is ready, not before
        clock.advance(0.5)
        received = listener.wait(1, timeout=60)
    assert received[0]["json"]["output"] == answer["future_links"]
    assert mock.fetch(answer["id"]).json()["status"] == "success"


def test_a_receiver_that_holds_the_delivery_does_not_hold_the_answer_or_other_webhooks(
        make_mock: Callable[..., MockClient], body: dict[str, Any]) -> None:
    mock = make_mock(webhook_attempts=1)
    with WebhookListener(gate=threading.Event()) as stuck, WebhookListener() as listener:
        held = mock.text2img(body | {"webhook": stuck.url})
        assert held.status_code == 200  # answered although no delivery can finish yet
        stuck.wait(1, timeout=60)  # the delivery is in progress, and stays so until the gate opens
        mock.text2img(body | {"webhook": listener.url})
        listener.wait(1, timeout=60)
        assert mock.fetch(held.json()["id"]).json()["webhook_status"] == "pending"
        assert stuck.gate is not None
        stuck.gate.set()
        assert _status(mock, held.json()["id"], "delivered") == "delivered (HTTP 200 on attempt 1 of 1)"


def test_failed_deliveries_are_retried_with_backoff(make_mock: Callable[..., MockClient],
                                                    body: dict[str, Any]) -> None:
    clock = ManualClock()
    mock = make_mock(webhook_backoff=0.2, clock=clock)
    webhooks = mock.runtime.webhooks
    with WebhookListener(status_codes=[500, 500]) as listener:
        answer = mock.text2img(body | {"webhook": listener.url}).json()
        assert _status(mock, answer["id"], "retrying") == "retrying after attempt 1 of 3: HTTP 500"
        assert wait_for(lambda: webhooks.next_due(), timeout=60) == clock.now() + 0.2
        clock.advance(0.2)
        assert _status(mock, answer["id"], "attempt 2") == "retrying after attempt 2 of 3: HTTP 500"
        assert wait_for(lambda: webhooks.next_due(), timeout=60) == clock.now() + 0.4  # doubled
        clock.advance(0.4)
        status = _status(mock, answer["id"], "delivered")
    assert [r["json"]["id"] for r in listener.received] == [answer["id"]] * 3
    assert status == "delivered (HTTP 200 on attempt 3 of 3)"


def test_three_failures_are_reported_in_webhook_status(make_mock: Callable[..., MockClient],
                                                       body: dict[str, Any]) -> None:
    clock = ManualClock()
    mock = make_mock(webhook_backoff=0.05, clock=clock)
    with WebhookListener(status_codes=[500, 503, 500, 200]) as listener:
        answer = mock.text2img(body | {"webhook": listener.url}).json()
        for attempt in (1, 2):
            _status(mock, answer["id"], f"attempt {attempt} ")
            wait_for(lambda: mock.runtime.webhooks.next_due(), timeout=60)  # the retry is queued (after its status)
            clock.advance(1.0)
        status = _status(mock, answer["id"], "failed")
        assert mock.runtime.webhooks.next_due() is None  # no fourth attempt is scheduled
        assert len(listener.received) == 3
    assert status == "failed after 3 attempts: HTTP 500"


def test_no_webhook_means_status_none(mock: MockClient, body: dict[str, Any]) -> None:
    assert mock.text2img(body).json()["webhook_status"] == "none"


def test_loopback_receivers_are_allowed_by_default_and_refused_when_denied(make_mock: Callable[..., MockClient],
                                                                          body: dict[str, Any]) -> None:
    hook = {"webhook": "http://127.0.0.1:9/hook"}
    assert make_mock().text2img(body | hook).status_code == 200
    strict = make_mock(private_urls="deny")
    refused = strict.text2img(body | hook)
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "webhook"
    assert strict.text2img(body | {"webhook": "http://169.254.169.254/latest"}).status_code == 400
    assert make_mock().text2img(body | {"webhook": "http://169.254.169.254/latest"}).status_code == 400


def test_webhooks_left_pending_by_a_stopped_mock_are_sent_by_the_next_one_on_the_same_db(
        make_mock: Callable[..., MockClient], body: dict[str, Any], tmp_path: Any) -> None:
    clock = ManualClock()
    db = tmp_path / "kept.sqlite3"
    with WebhookListener() as listener:
        first = make_mock(db_path=db, clock=clock)
        job = first.text2img(body | {"webhook": listener.url}, headers={"Prefer": "eta=5"}).json()
        first.runtime.close()  # as a stopped process: nothing was delivered, the status stays pending
        assert listener.received == []
        second = make_mock(db_path=db, clock=clock)
        assert second.runtime.webhooks.next_due() == pytest.approx(clock.now() + 5)  # when the job is ready
        clock.advance(5)
        assert listener.wait(1, timeout=60)[0]["json"]["id"] == job["id"]
        assert _status(second, job["id"], "delivered") == "delivered (HTTP 200 on attempt 1 of 3)"


def test_only_one_runtime_on_a_store_resumes_its_webhooks(make_mock: Callable[..., MockClient],
                                                          tmp_path: Any) -> None:
    db = tmp_path / "shared.sqlite3"
    first, second = make_mock(db_path=db), make_mock(db_path=db)  # two workers of one server
    assert first.runtime.resume_webhooks() == 0  # already holds the lock: a no-op, no second schedule
    assert second.runtime.resume_webhooks() == 0
    assert second.runtime._resume_lock is None and first.runtime._resume_lock is not None
