"""Issue 18, item 8: one slow input-image URL does not stall the mock as users run it.

Reproduced before the fixes: ``t2i mock`` (granian, one Python thread by default) fetched an
img2img's ``init_image`` from a server that trickled its answer, and a concurrent
``GET /__mock/health`` waited behind it (9.5 s of the 10 s fetch deadline). Here the fetch
deadline is long (the mock's is ``--webhook-timeout``) and the image server never finishes
until the test stops it, so the order of events is the proof: health must answer while the
img2img is still in flight.
"""
from __future__ import annotations

from pathlib import Path

import requests

from tests.held_request import while_an_input_trickles
from tests.processes import running
from tests.support import free_port

from .conftest import Trickle

TIMEOUT = 120.0  # a guard against a hung server, never a claim about speed


def test_health_answers_while_an_init_image_trickles_in(tmp_path: Path, trickle: Trickle) -> None:
    port = free_port()
    flags = ["--port", str(port), "--webhook-timeout", "600", "--db", str(tmp_path / "m.sqlite3")]
    with running("mock", flags, tmp_path / "mock.log", port) as mock:
        health, in_flight, held = while_an_input_trickles(
            mock.url, trickle, lambda: requests.get(f"{mock.url}/__mock/health", timeout=TIMEOUT))
    assert health.status_code == 200
    assert in_flight, "health answered only after the slow img2img had finished"
    assert held.status_code == 400, held.text
    assert held.json()["errors"][0]["field"] == "init_image"
