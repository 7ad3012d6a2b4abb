"""Issue 18, item 4: one client's slow webhook receivers or image URLs delay only that client's own work.

Reproduced before the fixes: the per-host cap counted hosts as spelt, so 32 slow receivers
spread over 8 spellings of one address (``127.0.0.1``, ``127.1``, ``0x7f000001``,
``2130706433``, ``localhost``...) took every delivery thread and delayed another client's
fast webhook by 38 s on the mock and 58 s on the backend. Here the slow receivers never
answer until the test ends (the servers' webhook deadline is longer than the test), so the
order of events is the proof: the other client's webhook arrives while they are held. The
same holds for input-image fetches, which run on request threads: a client with its share
of slow fetches in flight gets a 429 for one more, and another client is served meanwhile.
"""
from __future__ import annotations

import io
import threading
from typing import Any, Callable, Iterable

import pytest
import requests
from PIL import Image

from t2i_contract.contract_tests.listener import SuiteServer
from t2i_contract.protocol.fairness import DEFAULT_FETCHES_PER_CLIENT
from tests.support import WebhookListener, wait_for

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
        config["private_urls"] = "allow"
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


class ImagesOn(SuiteServer):
    """A small PNG at every path, served from ``host`` (another loopback address than the slow one)."""

    def __init__(self, host: str) -> None:
        super().__init__(host, "t2i-test-images")
        buffer = io.BytesIO()
        Image.new("RGB", (96, 96), (20, 160, 90)).save(buffer, "PNG")
        self.png = buffer.getvalue()

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "image/png"), ("Content-Length", str(len(self.png)))])
        return [self.png]


@pytest.mark.parametrize("kind", KINDS)
def test_one_clients_slow_image_urls_take_only_its_share_of_the_fetches(launch: Launch, kind: str,
                                                                      trickle: Trickle) -> None:
    """Its next img2img is a 429 at once while its slow ones hold their share; another client's runs."""
    config: dict[str, Any] = {"keys": (CLIENT, OTHER), "webhook_timeout": 3600.0}
    config["private_urls"] = "allow"  # both servers: the receiver listens on loopback
    target = launch(kind, **config)
    results: dict[int, requests.Response] = {}

    def img2img(n: int, key: str, url: str) -> None:
        body = {"key": key, "model_id": "tiny-sd", "prompt": "p", "num_inference_steps": 1, "init_image": url}
        results[n] = target.request("POST", target.path("img2img"), json=body, headers={"Prefer": "respond-async"})

    slow = [threading.Thread(target=img2img, args=(n, CLIENT, f"{trickle.url}-{n}.png"), daemon=True)
            for n in range(DEFAULT_FETCHES_PER_CLIENT + 1)]
    try:
        for thread in slow[:-1]:
            thread.start()
        wait_for(lambda: trickle.connections >= DEFAULT_FETCHES_PER_CLIENT, timeout=TIMEOUT, interval=0.02)
        slow[-1].start()  # one more of the same client, while its share is taken
        with ImagesOn("127.0.0.2") as images:
            img2img(-1, OTHER, images.root + "/fine.png")
    finally:
        trickle.stop.set()
        for thread in slow:
            thread.join(TIMEOUT)
    assert results[-1].status_code == 200, results[-1].text  # the other client was served meanwhile
    over = results[DEFAULT_FETCHES_PER_CLIENT]
    assert over.status_code == 429, over.text
    assert over.json()["errors"][0]["field"] == "init_image" and over.headers.get("Retry-After")
