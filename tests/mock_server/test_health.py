"""``t2i mock`` answers ``GET /healthz`` and ``GET /readyz`` (issue 21, item 8), as users run it."""
from __future__ import annotations

from pathlib import Path

import requests

from tests.hardening.conftest import Trickle
from tests.held_request import while_an_input_trickles
from tests.processes import running
from tests.support import free_port, wait_for

TIMEOUT = 120.0  # a guard against a hung server, never a claim about speed


def test_the_mock_is_live_and_ready_until_its_store_is_gone(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "mock.sqlite3"
    with running("mock", ["--port", str(port), "--db", str(db)], tmp_path / "mock.log", port,
                 ready="/healthz") as mock:
        live = requests.get(mock.url + "/healthz", timeout=TIMEOUT)
        ready = requests.get(mock.url + "/readyz", timeout=TIMEOUT)
        keyed = requests.get(mock.url + "/readyz", headers={"Host": "example.com"}, timeout=TIMEOUT)
        db.unlink()  # the store the workers share is gone: a restart would start empty

        def unready() -> dict | None:
            answer = requests.get(mock.url + "/readyz", timeout=TIMEOUT)
            return answer.json() if answer.status_code == 503 else None

        refused = wait_for(unready, timeout=TIMEOUT, interval=0.1)
        still_live = requests.get(mock.url + "/healthz", timeout=TIMEOUT)
    assert live.status_code == 200 and live.json()["status"] == "ok" and "X-T2I-Mock-Worker" in live.headers
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "checks": {"store": "ok"}}
    assert keyed.status_code == 200  # an operational endpoint: no Host rule, no key
    assert refused["failing"] == ["store"] and str(db) in refused["checks"]["store"]
    assert still_live.status_code == 200


def test_the_mocks_journal_and_the_contract_leave_the_probes_out(tmp_path: Path) -> None:
    port = free_port()
    with running("mock", ["--port", str(port), "--db", str(tmp_path / "m.sqlite3")], tmp_path / "mock.log", port,
                 ready="/readyz") as mock:
        for path in ("/healthz", "/readyz", "/healthz"):
            assert requests.get(mock.url + path, timeout=TIMEOUT).status_code == 200
        journal = requests.get(mock.url + "/__mock/requests", timeout=TIMEOUT).json()["requests"]
    assert [entry for entry in journal if entry.get("path") in ("/healthz", "/readyz")] == []


def test_readyz_answers_while_an_img2img_holds_a_request_thread(tmp_path: Path) -> None:
    port = free_port()
    flags = ["--port", str(port), "--webhook-timeout", "600", "--db", str(tmp_path / "m.sqlite3")]
    with Trickle() as trickle, running("mock", flags, tmp_path / "mock.log", port, ready="/healthz") as mock:
        ready, in_flight, answer = while_an_input_trickles(
            mock.url, trickle, lambda: requests.get(mock.url + "/readyz", timeout=TIMEOUT))
    assert ready.status_code == 200 and in_flight, "readyz answered only after the held img2img had finished"
    assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == "init_image"
