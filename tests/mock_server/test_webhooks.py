"""Webhooks over real HTTP, received by a listener the test starts."""
from __future__ import annotations

import time
from typing import Any, Callable

from t2i_contract.spec import load_spec
from tests.mock_server.conftest import MockClient
from tests.support import WebhookListener, wait_for


def test_webhook_receives_the_completion_payload(mock: MockClient, body: dict[str, Any]) -> None:
    with WebhookListener() as listener:
        answer = mock.text2img(body | {"webhook": listener.url, "track_id": "order-17"}).json()
        assert answer["webhook_status"] == "pending"
        payload = listener.wait(1)[0]["json"]
    assert load_spec().responses.check_webhook(payload) == []
    assert payload["status"] == "success"
    assert payload["id"] == answer["id"]
    assert payload["output"] == answer["output"]
    assert payload["track_id"] == "order-17"
    assert payload["meta"] == answer["meta"]
    assert payload["generationTime"] == answer["generationTime"]
    status = wait_for(lambda: "delivered" in (s := mock.fetch(answer["id"]).json()["webhook_status"]) and s)
    assert "attempt 1 of 3" in status


def test_webhook_for_a_processing_job_fires_once_it_is_ready(mock: MockClient, body: dict[str, Any]) -> None:
    with WebhookListener() as listener:
        sent = time.monotonic()
        answer = mock.text2img(body | {"webhook": listener.url}, headers={"Prefer": "eta=0.5"}).json()
        assert answer["status"] == "processing"
        received = listener.wait(1)
    assert received[0]["at"] - sent >= 0.45
    assert received[0]["json"]["output"] == answer["future_links"]
    assert mock.fetch(answer["id"]).json()["status"] == "success"


def test_webhook_is_sent_off_the_request_thread(make_mock: Callable[..., MockClient], body: dict[str, Any]) -> None:
    """A webhook receiver that never answers does not slow the text2img answer down."""
    import socket

    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        mock = make_mock(webhook_timeout=2.0, webhook_attempts=1)
        started = time.monotonic()
        response = mock.text2img(body | {"webhook": url})
        assert response.status_code == 200
        assert time.monotonic() - started < 1.0


def test_failed_deliveries_are_retried_with_backoff(make_mock: Callable[..., MockClient],
                                                    body: dict[str, Any]) -> None:
    mock = make_mock(webhook_backoff=0.2)
    with WebhookListener(status_codes=[500, 500]) as listener:
        answer = mock.text2img(body | {"webhook": listener.url}).json()
        received = listener.wait(3)
        status = wait_for(lambda: "delivered" in (s := mock.fetch(answer["id"]).json()["webhook_status"]) and s)
    assert len(received) == 3
    assert [r["json"]["id"] for r in received] == [answer["id"]] * 3
    gaps = [b["at"] - a["at"] for a, b in zip(received, received[1:])]
    assert gaps[0] >= 0.18 and gaps[1] >= 0.38  # 0.2 s, then doubled
    assert status == "delivered (HTTP 200 on attempt 3 of 3)"


def test_three_failures_are_reported_in_webhook_status(make_mock: Callable[..., MockClient],
                                                       body: dict[str, Any]) -> None:
    mock = make_mock(webhook_backoff=0.05)
    with WebhookListener(status_codes=[500, 503, 500, 200]) as listener:
        answer = mock.text2img(body | {"webhook": listener.url}).json()
        status = wait_for(lambda: "failed" in (s := mock.fetch(answer["id"]).json()["webhook_status"]) and s)
        time.sleep(0.3)
        assert len(listener.received) == 3  # no fourth attempt
    assert status == "failed after 3 attempts: HTTP 500"


def test_no_webhook_means_status_none(mock: MockClient, body: dict[str, Any]) -> None:
    assert mock.text2img(body).json()["webhook_status"] == "none"


def test_a_slow_receiver_does_not_hold_up_other_webhooks(make_mock: Callable[..., MockClient],
                                                          body: dict[str, Any]) -> None:
    import socket

    mock = make_mock(webhook_timeout=3.0, webhook_attempts=1)
    with socket.socket() as silent, WebhookListener() as listener:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        mock.text2img(body | {"webhook": f"http://127.0.0.1:{silent.getsockname()[1]}/hook"})
        started = time.monotonic()
        mock.text2img(body | {"webhook": listener.url})
        listener.wait(1, timeout=5)
        assert time.monotonic() - started < 2.0
