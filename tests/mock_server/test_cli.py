"""``t2i mock`` as users run it: bad values, environment variables, and real multi-process servers.

That every option has help, a shown default and a working variable is tests/spec/test_options.py's.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from click.testing import CliRunner

from t2i_contract.spec.cli import main
from tests.processes import kill_tree
from tests.support import free_port, wait_for


def test_bad_option_values_are_refused_before_serving() -> None:
    runner = CliRunner()
    for args in (["--latency", "fast"], ["--processing-ratio", "2"], ["--port", "-1"]):
        result = runner.invoke(main, ["mock", *args], auto_envvar_prefix="T2I")
        assert result.exit_code == 2, args
        assert "Invalid value" in result.output


def test_a_port_in_use_is_one_line_and_exit_1() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["mock", "--port", str(port)])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: cannot listen on 127.0.0.1:{port}: Address already in use"


def _start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "from t2i_contract.spec.cli import run; run()", "mock", *args]
    return subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen[bytes]) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=120)  # generous: two loaded cores
    except subprocess.TimeoutExpired:
        kill_tree(process)  # its server workers too
        output, _ = process.communicate()
    return output.decode("utf-8", "replace")


def _wait_up(url: str) -> None:
    def up() -> bool:
        try:
            return requests.get(url + "/__mock/health", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    wait_for(up, timeout=20, interval=0.1)


@pytest.fixture(params=["granian", "gunicorn"])
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """``t2i mock --workers 2`` in a subprocess, on each server, configured through T2I_MOCK_* variables."""
    port = free_port()
    db = tmp_path / "jobs.sqlite3"
    process = _start(["--workers", "2"], env={"T2I_MOCK_PORT": str(port), "T2I_MOCK_DB": str(db),
                                              "T2I_MOCK_KEYS": "secret", "T2I_MOCK_SERVER": request.param})
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_up(url)
        yield {"url": url, "db": db, "process": process, "server": request.param}
    finally:
        log = _stop(process)
        assert process.returncode == 0, log


def test_two_workers_share_jobs(served: dict[str, Any]) -> None:
    """A job made by one worker is found by the other, through the SQLite file."""
    url, api = served["url"], served["url"] + "/api/v6/images"
    health = requests.get(url + "/__mock/health", timeout=5)
    assert health.headers["Server"].lower().startswith(served["server"])
    body = {"key": "secret", "model_id": "m", "prompt": "shared state", "width": 256, "height": 256}
    assert requests.post(api + "/text2img", json=body | {"key": "wrong"}, timeout=5).status_code == 401
    started = requests.post(api + "/text2img", json=body, headers={"Prefer": "eta=0.3"}, timeout=5)
    job = started.json()
    assert job["status"] == "processing"
    creator = started.headers["X-T2I-Mock-Worker"]
    answered_by: dict[str, str] = {}

    def both_workers_answered() -> bool:
        # a fresh connection each time, so the kernel hands it to either worker
        response = requests.post(f"{api}/fetch/{job['id']}", json={"key": "secret"},
                                 headers={"Connection": "close"}, timeout=5)
        assert response.status_code == 200, response.text
        answered_by[response.headers["X-T2I-Mock-Worker"]] = response.json()["status"]
        return len(answered_by) >= 2

    wait_for(both_workers_answered, timeout=20, interval=0.01)
    assert creator in answered_by
    other = next(pid for pid in answered_by if pid != creator)
    assert answered_by[other] in ("processing", "success")
    done = wait_for(lambda: (r := requests.post(f"{api}/fetch", json={"key": "secret", "request_id": job["id"]},
                                               headers={"Connection": "close"}, timeout=5).json())["status"]
                    == "success" and r, timeout=10)
    assert done["output"] == job["future_links"]
    image = requests.get(done["output"][0], timeout=5)
    assert image.status_code == 200 and image.content[:4] == b"\x89PNG"
    assert done["output"][0].startswith(url + "/")
    assert served["db"].exists()


def test_the_command_reads_options_from_t2i_mock_variables(tmp_path: Path) -> None:
    """Also: --access-log logs each request over real HTTP, and granian's thread warning is not printed."""
    port = free_port()
    process = _start([], env={"T2I_MOCK_PORT": str(port), "T2I_MOCK_PROCESSING_RATIO": "1",
                              "T2I_MOCK_ETA": "7", "T2I_MOCK_DB": str(tmp_path / "m.sqlite3"),
                              "T2I_MOCK_ACCESS_LOG": "1"})
    url = f"http://127.0.0.1:{port}"
    printed: list[bytes] = []  # read as it comes: the access line is written after the answer, maybe after we stop
    reader = threading.Thread(target=lambda: printed.extend(iter(process.stdout.readline, b"")), daemon=True)
    reader.start()
    access = '"POST /api/v6/images/text2img HTTP/1.1" 200 '
    try:
        _wait_up(url)
        answer = requests.post(url + "/api/v6/images/text2img", json={"key": "k", "model_id": "m", "prompt": "p"},
                               timeout=5).json()
        wait_for(lambda: access in b"".join(printed).decode(), timeout=20)
    finally:
        rest = _stop(process)
        reader.join(timeout=10)
    log = b"".join(printed).decode() + rest
    assert answer["status"] == "processing"
    assert 6 <= answer["eta"] <= 7
    assert access in log and "warn" not in log.lower(), log


def test_the_default_temporary_store_is_removed_on_shutdown() -> None:
    port = free_port()
    process = _start(["--port", str(port)])
    try:
        _wait_up(f"http://127.0.0.1:{port}")
    finally:
        log = _stop(process)
    db = Path(log.split("db=", 1)[1].split(")", 1)[0])
    assert db.name == "mock.sqlite3"
    assert not db.parent.exists()
