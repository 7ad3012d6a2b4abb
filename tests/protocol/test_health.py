"""protocol/health.py: /healthz and /readyz in front of any app, the readiness verdict, and the shared probes."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import requests
from flask import Flask

from t2i_contract.protocol.health import (HEALTHZ, READYZ, folder_writable, install_health, readiness,
                                          sqlite_writable)
from tests.support import ServerThread


def _app(probes: dict) -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def index() -> str:
        return "the app"

    @app.before_request
    def refuse_everything() -> None:  # a server's own hook (a key, a Host rule) never runs for the probes
        from flask import abort

        abort(403)

    install_health(app, probes)
    return app


def test_readiness_is_200_when_every_probe_passes_and_names_each() -> None:
    status, body = readiness({"store": lambda: None, "queue": lambda: None})
    assert status == 200 and body == {"status": "ready", "checks": {"store": "ok", "queue": "ok"}}


def test_a_failing_probe_is_a_503_naming_it_and_why() -> None:
    status, body = readiness({"store": lambda: None, "queue": lambda: "Redis does not answer"})
    assert status == 503 and body["failing"] == ["queue"]
    assert body["checks"] == {"store": "ok", "queue": "Redis does not answer"}
    assert body["message"] == "not ready: queue: Redis does not answer"


def test_a_probe_that_raises_is_not_ready_with_the_exception_named() -> None:
    def broken() -> str | None:
        raise ConnectionRefusedError("refused")

    status, body = readiness({"queue": broken})
    assert status == 503 and body["checks"]["queue"] == "ConnectionRefusedError: refused"


def test_both_paths_answer_over_http_before_the_apps_own_hooks(tmp_path: Path) -> None:
    failing = {"now": False}
    app = _app({"thing": lambda: "broken" if failing["now"] else None})
    with ServerThread(app) as server:
        live = requests.get(server.url + HEALTHZ, timeout=30)
        ready = requests.get(server.url + READYZ, timeout=30)
        failing["now"] = True
        unready = requests.get(server.url + READYZ, timeout=30)
        still_live = requests.get(server.url + HEALTHZ, timeout=30)
        other = requests.get(server.url + "/", timeout=30)
        posted = requests.post(server.url + READYZ, timeout=30)
    assert live.status_code == 200 and live.json()["status"] == "ok"
    assert ready.status_code == 200 and ready.json()["checks"] == {"thing": "ok"}
    assert unready.status_code == 503 and unready.json()["failing"] == ["thing"]
    assert unready.headers["Cache-Control"] == "no-store" and unready.headers["Content-Type"] == "application/json"
    assert still_live.status_code == 200  # liveness runs no probe
    assert other.status_code == 403  # everything else still goes to the app, hooks included
    assert posted.status_code == 405 and posted.headers["Allow"] == "GET, HEAD"
    assert posted.json()["status"] == "error" and "POST /readyz" in posted.json()["message"]


def test_sqlite_probe_passes_on_a_writable_store_and_fails_on_a_missing_or_locked_one(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    assert sqlite_writable(path)() == f"the job store {path} is missing"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    assert sqlite_writable(path)() is None
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock past the probe's wait
    try:
        problem = sqlite_writable(path, timeout=0.01)()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert problem is not None and "cannot be written" in problem and "locked" in problem
    assert sqlite_writable(path)() is None


def test_folder_probe_fails_on_a_missing_folder_and_leaves_nothing_behind(tmp_path: Path) -> None:
    assert folder_writable(tmp_path)() is None
    assert list(tmp_path.iterdir()) == []
    problem = folder_writable(tmp_path / "gone")()
    assert problem is not None and "cannot be written" in problem and str(tmp_path / "gone") in problem
