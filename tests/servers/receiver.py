"""A real webhook receiver whose answers are scripted and which looks at the server mid-delivery.

The status a server reports while an attempt is in flight can only change once the server has
the receiver's answer. So before answering each delivery the receiver calls ``observe`` with the
payload (a case fetches the job's ``webhook_status`` there) and keeps what it saw. After the last
scripted answer, the job's final status is the first one that differs from what was seen during
that attempt: no timing, and no knowledge of the servers' wording, is needed to find it.
"""
from __future__ import annotations

import json
import threading
from typing import Any, Callable, Sequence

from werkzeug.wrappers import Request, Response

from tests.support import ServerThread, wait_for

__all__ = ["ScriptedReceiver"]


class ScriptedReceiver:
    """Answers the n-th POST with ``codes[n]`` (200 once they run out), after calling ``observe``."""

    def __init__(self, codes: Sequence[int], observe: Callable[[Any], Any] | None = None) -> None:
        self.codes = list(codes)
        self.observe = observe
        self.payloads: list[Any] = []
        self.observed: list[Any] = []
        self._lock = threading.Lock()
        self._server = ServerThread(self._wsgi)
        self.url = self._server.url + "/hook"

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        raw = Request(environ).get_data()
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = {"_raw": raw.decode("utf-8", "replace")}
        try:
            seen = self.observe(payload) if self.observe is not None else None
        except Exception as exc:  # kept for the test to report; the server still gets its scripted answer
            seen = exc
        with self._lock:
            index = len(self.payloads)
            self.payloads.append(payload)
            self.observed.append(seen)
            code = self.codes[index] if index < len(self.codes) else 200
        return Response("ok", status=code)(environ, start_response)

    def wait(self, count: int, timeout: float = 60.0) -> list[Any]:
        """The payloads once at least ``count`` deliveries have arrived (polled, generous deadline)."""
        wait_for(lambda: len(self.payloads) >= count, timeout)
        with self._lock:
            return list(self.payloads)

    def __enter__(self) -> ScriptedReceiver:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__(*exc)
