"""A mock killed with SIGKILL mid-delivery: the next ``t2i mock`` on the same ``--db`` sends the webhook."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import requests

from tests.mock_server.test_cli import _stop, _wait_up
from tests.support import WebhookListener, free_port, wait_for

BODY = {"key": "k", "model_id": "f222-diffusion", "prompt": "a lighthouse", "width": 256, "height": 256}


def _start_group(args: list[str]) -> subprocess.Popen[bytes]:
    """``t2i mock`` in a process group of its own, so SIGKILL reaches its server workers too."""
    return subprocess.Popen([sys.executable, "-c", "from t2i_contract.spec.cli import run; run()", "mock", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def test_a_webhook_interrupted_by_kill_9_is_sent_after_the_restart(tmp_path: Path) -> None:
    db, port = tmp_path / "kept.sqlite3", free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["--port", str(port), "--db", str(db), "--webhook-backoff", "0"]
    gate = threading.Event()
    with WebhookListener(gate=gate) as listener:
        first = _start_group(args)
        try:
            _wait_up(url)
            job = requests.post(url + "/api/v6/images/text2img", json=BODY | {"webhook": listener.url},
                                timeout=30).json()
            listener.wait(1, timeout=60)  # the delivery is under way, held open by the receiver
        finally:
            os.killpg(first.pid, signal.SIGKILL)
            first.communicate(timeout=30)
        gate.set()  # the first attempt's answer goes to a dead process
        second = _start_group(args)
        try:
            _wait_up(url)
            received = listener.wait(2, timeout=60)
            status = wait_for(lambda: "delivered" in (s := requests.post(
                f"{url}/api/v6/images/fetch/{job['id']}", json={"key": "k"}, timeout=30).json()["webhook_status"]) and s,
                timeout=60)
        finally:
            _stop(second)
    assert [r["json"]["id"] for r in received] == [job["id"], job["id"]]
    assert status == "delivered (HTTP 200 on attempt 1 of 3)"
