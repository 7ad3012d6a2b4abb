"""``GET /healthz`` and ``GET /readyz``: liveness and readiness, on every server process.

A load balancer (or an orchestrator) in front of ``t2i serve`` processes and mocks asks
two questions, and each gets its own path:

- ``/healthz``, *liveness*: the process answers HTTP. It runs no probe and touches no
  store, so it stays cheap and true while a dependency is away (restarting a live
  process would not bring Redis back).
- ``/readyz``, *readiness*: the process can do its work now. Each server names its own
  probes (the mock: its SQLite store is writable; ``t2i serve``: models on disk, the job
  store and image folder writable, its generation threads alive; an API process of the
  distributed mode: Redis answers, its image folder is writable). 200 when every probe
  passes; 503 otherwise, the JSON body naming each probe that failed and why.

Both are operational endpoints, not operations of the contract: they are in no
document (so ``t2i test``, ``t2i drift`` and the drift proxy never judge them), they
need no key, and they answer outside Flask, in a WSGI layer in front of the app
(:class:`HealthLayer`), so no hook of the server's (a key check, a Host rule, the
mock's journal) runs for them and none of the request threads' work sits before them:
each costs one of the WSGI server's threads for the time of its probes only.

:func:`install_health` puts it on a Flask app; the probe helpers below
(:func:`sqlite_writable`, :func:`folder_writable`) are shared by the servers.
"""
from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from flask import Flask
from werkzeug.http import HTTP_STATUS_CODES

from .errors import MethodNotAllowed, error_answer
from .pipeline import json_bytes

__all__ = ["HEALTH_PATHS", "HEALTHZ", "READYZ", "HealthLayer", "Probe", "folder_writable", "install_health",
           "readiness", "sqlite_writable"]

HEALTHZ = "/healthz"
READYZ = "/readyz"
HEALTH_PATHS = frozenset({HEALTHZ, READYZ})
PROBE_TIMEOUT = 2.0
"""Seconds a probe of a store may wait for it (a SQLite write lock, a Redis answer) before it says not ready."""

Probe = Callable[[], str | None]
"""A readiness probe: ``None`` when ready, else why not, in words ("Redis does not answer: ..."). It may raise."""
_Start = Callable[..., Any]


def readiness(probes: Mapping[str, Probe]) -> tuple[int, dict[str, Any]]:
    """Run every probe: (200, ``{"status": "ready", "checks": {...}}``) or (503, the same naming what failed).

    A probe that raises fails with the exception's type and message: a broken probe is never taken for ready.
    """
    checks: dict[str, str] = {}
    failing: list[str] = []
    for name, probe in probes.items():
        try:
            problem = probe()
        except Exception as exc:  # noqa: BLE001 - whatever breaks, the answer says so
            problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        checks[name] = problem or "ok"
        if problem:
            failing.append(name)
    if not failing:
        return 200, {"status": "ready", "checks": checks}
    message = "not ready: " + "; ".join(f"{name}: {checks[name]}" for name in failing)
    return 503, {"status": "not ready", "message": message, "failing": failing, "checks": checks}


class HealthLayer:
    """WSGI middleware: answers ``/healthz`` and ``/readyz`` itself, passes everything else to ``app``."""

    def __init__(self, app: Callable[..., Iterable[bytes]], probes: Mapping[str, Probe],
                 headers: Mapping[str, str] | None = None) -> None:
        self.app = app
        self.probes = dict(probes)
        self.headers = list((headers or {}).items())

    def __call__(self, environ: dict[str, Any], start_response: _Start) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path not in HEALTH_PATHS:
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            status, body, headers = error_answer(MethodNotAllowed(method, path, ["GET", "HEAD"]), method, path)
        elif path == HEALTHZ:
            status, body, headers = 200, {"status": "ok"}, {}
        else:
            status, body = readiness(self.probes)
            headers = {}
        payload = json_bytes(body)
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}",
                       [("Content-Type", "application/json"), ("Cache-Control", "no-store"), *self.headers,
                        *headers.items(), ("Content-Length", str(len(payload)))])
        return [] if method == "HEAD" else [payload]


def install_health(app: Flask, probes: Mapping[str, Probe], headers: Mapping[str, str] | None = None) -> HealthLayer:
    """Answer ``/healthz`` and ``/readyz`` in front of ``app``'s Flask handling (and of any WSGI wrapper before it)."""
    layer = HealthLayer(app.wsgi_app, probes, headers)
    app.wsgi_app = layer  # type: ignore[method-assign]
    return layer


# -- probes the servers share ---------------------------------------------------------------
def sqlite_writable(path: Path, timeout: float = PROBE_TIMEOUT) -> Probe:
    """A probe: the SQLite file at ``path`` opens and its write lock can be taken (then let go, nothing written)."""

    def probe() -> str | None:
        if not Path(path).is_file():
            return f"the job store {path} is missing"
        db = sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")  # the write lock: a read-only or locked file fails here
            db.execute("ROLLBACK")
        except sqlite3.Error as exc:
            return f"the job store {path} cannot be written: {exc}"
        finally:
            db.close()
        return None

    return probe


def folder_writable(folder: Path) -> Probe:
    """A probe: a file can be made (and removed) in ``folder``."""

    def probe() -> str | None:
        try:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".t2i-ready-"):
                pass
        except OSError as exc:
            return f"the folder {folder} cannot be written: {exc.strerror or exc}"
        return None

    return probe
