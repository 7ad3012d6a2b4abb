"""Issue 18, item 8: one slow input-image URL does not stall the mock as users run it.

Reproduced before the fixes: ``t2i mock`` (granian, one Python thread by default) fetched an
img2img's ``init_image`` from a server that trickled its answer, and a concurrent
``GET /__mock/health`` waited behind it (9.5 s of the 10 s fetch deadline). Here the fetch
deadline is long (the mock's is ``--webhook-timeout``) and the image server never finishes
until the test stops it, so the order of events is the proof: health must answer while the
img2img is still in flight.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import requests

from tests.processes import running
from tests.support import free_port, wait_for

from .answers import PNG_BASE64
from .conftest import Trickle

TIMEOUT = 120.0  # a guard against a hung server, never a claim about speed


def test_health_answers_while_an_init_image_trickles_in(tmp_path: Path, trickle: Trickle) -> None:
    port = free_port()
    flags = ["--port", str(port), "--webhook-timeout", "600", "--db", str(tmp_path / "m.sqlite3")]
    with running("mock", flags, tmp_path / "mock.log", port) as mock:
        finished = threading.Event()
        outcome: dict[str, Any] = {}

        def img2img() -> None:
            body = {"key": "k", "model_id": "m", "prompt": "p", "init_image": trickle.url, "mask_image": PNG_BASE64}
            outcome["answer"] = requests.post(f"{mock.url}/api/v6/images/img2img", json=body, timeout=TIMEOUT)
            finished.set()

        caller = threading.Thread(target=img2img, daemon=True)
        caller.start()
        try:
            wait_for(lambda: trickle.connections >= 1, timeout=TIMEOUT, interval=0.02)  # the fetch is in flight
            health = requests.get(f"{mock.url}/__mock/health", timeout=TIMEOUT)
            in_flight = not finished.is_set()
        finally:
            trickle.stop.set()  # the image server hangs up: the img2img ends
            caller.join(TIMEOUT)
    assert health.status_code == 200
    assert in_flight, "health answered only after the slow img2img had finished"
    assert outcome["answer"].status_code == 400, outcome["answer"].text
    assert outcome["answer"].json()["errors"][0]["field"] == "init_image"
