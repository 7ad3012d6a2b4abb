"""Issue 18, item 4: one client's slow webhook receivers delay only that client's own deliveries.

Reproduced before the fixes: the per-host cap counted hosts as spelt, so 32 slow receivers
spread over 8 spellings of one address (``127.0.0.1``, ``127.1``, ``0x7f000001``,
``2130706433``, ``localhost``...) took every delivery thread and delayed another client's
fast webhook by 38 s on the mock and 58 s on the backend. Here the slow receivers never
answer until the test ends (the servers' webhook deadline is longer than the test), so the
order of events is the proof: the other client's webhook arrives while they are held.
"""
from __future__ import annotations

import pytest

from tests.support import WebhookListener

from .conftest import KINDS, Launch, Trickle

CLIENT, OTHER = "slow-client-key-0123", "fast-client-key-4567"
SPELLINGS = ["127.0.0.1", "127.1", "0x7f000001", "2130706433", "localhost", "0177.0.0.1", "127.0.0.1.",
             "LOCALHOST"]
SLOW = 32
TIMEOUT = 120.0  # a guard against a hung server, never a claim about speed


@pytest.mark.parametrize("kind", KINDS)
def test_slow_receivers_under_many_spellings_do_not_delay_another_clients_webhook(
        launch: Launch, kind: str, trickle: Trickle, receiver: WebhookListener) -> None:
    config = {"keys": (CLIENT, OTHER), "webhook_timeout": 3600.0, "webhook_attempts": 1}
    if kind == "backend":
        config["allow_private_urls"] = True
    target = launch(kind, **config)
    port = trickle.url.split(":")[2].split("/")[0]
    for n in range(SLOW):
        host = SPELLINGS[n % len(SPELLINGS)]
        answer = target.text2img(target.body(key=CLIENT, webhook=f"http://{host}:{port}/slow-{n}"))
        assert answer.status_code == 200, answer.text
    answer = target.text2img(target.body(key=OTHER, webhook=receiver.url))
    assert answer.status_code == 200, answer.text
    delivered = receiver.wait(1, timeout=TIMEOUT)
    assert delivered[0]["json"]["id"] == answer.json()["id"]
    assert not trickle.stop.is_set() and 1 <= trickle.connections < SLOW, "the slow receivers were not held"
