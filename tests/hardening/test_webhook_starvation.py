"""Issue 10, item 3: receivers that trickle their answer cannot starve the other webhooks.

Reproduced before the fixes (5471b43): requests' timeout applies per read, so a receiver that
sends one byte at a time held a delivery thread for as long as it kept sending; with as many
such receivers as delivery threads (8 on the mock, 4 on the backend) a normal webhook waited
behind them. Here twelve deliveries go to a receiver that never finishes its answer, then one
to a normal receiver. With a total deadline per attempt (``webhook_timeout`` 1 s here) each slow
delivery ends and the normal one arrives; without it, it never does, and the polling below
fails at its (generous) deadline. No delivery is retried, so the slow ones end for good.
"""
from __future__ import annotations

import pytest

from tests.support import WebhookListener, wait_for

from .conftest import KINDS, Launch, Trickle

SLOW_DELIVERIES = 12  # more than either server's delivery threads
DEADLINE = 1.0  # the servers' webhook_timeout: a total deadline per attempt
TIMEOUT = 120.0  # polling deadline: generous, never a claim about speed


@pytest.mark.parametrize("kind", KINDS)
def test_a_normal_webhook_is_delivered_while_slow_receivers_trickle(launch: Launch, kind: str, trickle: Trickle,
                                                                    receiver: WebhookListener) -> None:
    once = {"webhook_attempts": 1}
    target = launch(kind, webhook_timeout=DEADLINE, url_allow=("127.0.0.1",), **once)
    for seed in range(SLOW_DELIVERIES):
        assert target.text2img(target.body(webhook=trickle.url, seed=seed)).status_code == 200
    wait_for(lambda: trickle.connections >= 1, timeout=TIMEOUT)
    normal = target.text2img(target.body(webhook=receiver.url, seed=99))
    assert normal.status_code == 200, normal.text
    delivered = receiver.wait(1, timeout=TIMEOUT)
    assert delivered[0]["json"]["id"] == normal.json()["id"]
    assert trickle.connections >= 1
