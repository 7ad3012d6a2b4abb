"""HTTP to the server under test, with every call kept as an :class:`Exchange`.

An exchange remembers what was sent and what came back, so a failure can show
the response seen and a curl command that reproduces the request
(:meth:`Exchange.curl`, with the API key written as ``$T2I_KEY``). The client
retries documented back-pressure answers (429, 503) a few times, honouring
``retry_after``; everything else is returned as it came. Extra ``headers``
(``t2i test -H``) go with every request, image downloads included. One client
may be used from several threads (``--workers``): each thread has its own
connection pool. :func:`wait_until_answering` is ``--wait``.
"""
from __future__ import annotations

import json
import shlex
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import requests

from t2i_contract.spec import Spec, load_spec
from t2i_contract.wire.answers import answers_for
from t2i_contract.wire.routes import route_table

from .har import Archive

__all__ = ["BACKPRESSURE", "Client", "Exchange", "NO_JSON", "wait_until_answering"]

# Answers that mean "busy, ask again after retry_after", not a verdict on the request.
BACKPRESSURE = frozenset({429, 503})
_KEY_SENTINEL = "\u0000T2I-KEY\u0000"
_SHOWN = 600


class _NoJson:
    def __repr__(self) -> str:
        return "NO_JSON"


NO_JSON: Any = _NoJson()


@dataclass
class Exchange:
    """One request and its answer (``status`` 0 when no HTTP answer came)."""

    method: str
    url: str
    operation: str | None
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    key: str | None = None
    status: int = 0
    content_type: str = ""
    content: bytes = b""
    text: str = ""
    json: Any = NO_JSON
    error: str | None = None
    elapsed: float = 0.0
    role: str | None = None  # the answer's branch as the contract's status words say (set by the client)

    @property
    def answered(self) -> bool:
        return self.status != 0

    @property
    def branch(self) -> str | None:
        """Which answer this is: ``success``, ``processing`` or ``error``, read through the document's words
        (``x-t2i-wire``: :meth:`~t2i_contract.wire.answers.Answers.read`); None for anything else.

        A client sets it as the answer comes; an exchange made by hand is read with the default contract's words.
        """
        if self.role is None and isinstance(self.json, dict):
            return answers_for(load_spec()).read(self.json).branch
        return self.role

    @property
    def word(self) -> Any:
        """The status word the answer said, as sent (``'loaded'`` where the contract has no such word)."""
        field = answers_for(load_spec()).wire.answer_status_field
        return self.json.get(field) if isinstance(self.json, dict) and field else None

    def response_summary(self) -> str:
        if not self.answered:
            return f"no HTTP answer: {self.error}"
        text = self.text if len(self.text) <= _SHOWN else self.text[:_SHOWN] + f"... ({len(self.text)} chars)"
        return f"HTTP {self.status} {text}"

    def curl(self) -> str:
        """A shell command that sends this request again, the key read from ``$T2I_KEY``."""
        parts = ["curl -sS -X", self.method, shlex.quote(self.url)]
        for name, value in self.headers.items():
            parts += ["-H", shlex.quote(f"{name}: {value}")]
        if self.body is not None:
            parts += ["-H", shlex.quote("Content-Type: application/json"), "--data-raw", self._json_argument()]
        elif self.raw is not None:
            parts += ["-H", shlex.quote("Content-Type: application/json")]
            if all(32 <= b < 127 for b in self.raw):  # an empty body too: --data-raw ''
                parts += ["--data-raw", shlex.quote(self.raw.decode("ascii"))]
            else:
                escaped = "".join(f"\\x{b:02x}" for b in self.raw)
                return f"printf '{escaped}' | " + " ".join(parts + ["--data-binary", "@-"])
        return " ".join(parts)

    def _json_argument(self) -> str:
        body = self.body
        if self.key and isinstance(body, dict) and isinstance(body.get("key"), str) \
                and body["key"].startswith(self.key):
            body = body | {"key": _KEY_SENTINEL + body["key"][len(self.key):]}
        text = json.dumps(body, ensure_ascii=True, separators=(",", ":"))
        quoted = "'" + text.replace("'", "'\\''") + "'"
        sentinel = json.dumps(_KEY_SENTINEL)[1:-1]
        return quoted.replace(sentinel, "'\"$T2I_KEY\"'")


class Client:
    """Talks to one server; ``base_url`` is its root (``https://modelslab.com`` or ``.../api``)."""

    def __init__(self, spec: Spec, base_url: str, *, key: str, timeout: float, retries: int,
                 max_retry_wait: float, headers: Mapping[str, str] | None = None, rate_limit: float | None = None,
                 recorder: Archive | None = None) -> None:
        """``rate_limit``: most requests a second (``--rate-limit``); ``recorder`` keeps every exchange (``--record``)."""
        self.spec = spec
        self.answers = answers_for(spec)
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.timeout = timeout
        self.retries = retries
        self.max_retry_wait = max_retry_wait
        self.headers = dict(headers or {})
        self.sent = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self.interval = 1.0 / rate_limit if rate_limit else 0.0
        self._next_at = 0.0
        self.archive = recorder

    @property
    def session(self) -> requests.Session:
        """This thread's session (requests' sessions are not meant to be shared between threads)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers.update(self.headers)
            with self._lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def url_for(self, operation_id: str, **params: Any) -> str:
        """The operation's URL on this server, from the contract's route table (:mod:`wire.routes`)."""
        return route_table(self.spec).url(self.base_url, operation_id, **params)

    # -- the API's operations ------------------------------------------------------
    def text2img(self, body: Any, headers: dict[str, str] | None = None) -> Exchange:
        return self.post("text2img", self.url_for("text2img"), body=body, headers=headers)

    def text2img_raw(self, raw: bytes) -> Exchange:
        return self.post("text2img", self.url_for("text2img"), raw=raw)

    def fetch_by_id(self, generation_id: Any, key: str | None = None) -> Exchange:
        """The document's first fetch form (``x-t2i-wire`` lifecycle): the id in the path."""
        operation = self.answers.wire.lifecycle.fetch[0]
        return self.post(operation, self.url_for(operation, id=generation_id), body={"key": key or self.key})

    def fetch(self, generation_id: Any, key: str | None = None) -> Exchange:
        """The document's second fetch form: the id in the body."""
        operation = self.answers.wire.lifecycle.fetch[-1]
        return self.post(operation, self.url_for(operation),
                         body={"key": key or self.key, "request_id": generation_id})

    # -- plumbing ------------------------------------------------------------------
    def post(self, operation: str | None, url: str, *, body: Any = None, raw: bytes | None = None,
             headers: dict[str, str] | None = None) -> Exchange:
        for attempt in range(self.retries + 1):
            exchange = self._send(operation, url, body, raw, dict(headers or {}))
            if exchange.status not in BACKPRESSURE or attempt == self.retries:
                return exchange
            wait = exchange.json.get("retry_after", 1) if isinstance(exchange.json, dict) else 1
            time.sleep(min(float(wait) if isinstance(wait, (int, float)) else 1.0, self.max_retry_wait))
        return exchange  # pragma: no cover - the loop always returns

    def _send(self, operation: str | None, url: str, body: Any, raw: bytes | None,
              headers: dict[str, str]) -> Exchange:
        exchange = Exchange("POST", url, operation, body=body, raw=raw, headers=self.headers | headers, key=self.key)
        data = raw if raw is not None else json.dumps(body, ensure_ascii=True).encode()
        self._pace()
        started = time.monotonic()
        try:
            response = self.session.post(url, data=data, timeout=self.timeout,
                                         headers={"Content-Type": "application/json"} | headers)
        except requests.RequestException as exc:
            exchange.error = f"{type(exc).__name__}: {exc}"
        else:
            exchange.status = response.status_code
            exchange.content_type = response.headers.get("Content-Type", "")
            exchange.content = response.content
            exchange.text = response.text
            try:
                exchange.json = response.json()
            except ValueError:
                exchange.json = NO_JSON
            exchange.role = self.answers.read(exchange.json if exchange.json is not NO_JSON else None).branch
        exchange.elapsed = time.monotonic() - started
        with self._lock:
            self.sent += 1
        if self.archive is not None:
            self.archive.add_exchange(exchange, data)
        return exchange

    def _pace(self) -> None:
        """Wait for this request's turn under ``--rate-limit`` (requests are spaced 1/rate seconds apart)."""
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            turn = max(now, self._next_at)
            self._next_at = turn + self.interval
        if turn > now:
            time.sleep(turn - now)

    def get_bytes(self, url: str) -> tuple[int, bytes, str]:
        """GET an image URL: (status, body, error); status 0 when nothing answered."""
        self._pace()
        started = time.monotonic()
        try:
            response = self.session.get(url, timeout=self.timeout)
        except requests.RequestException as exc:
            if self.archive is not None:
                self.archive.add_download(url, self.headers, None, time.monotonic() - started)
            return 0, b"", f"{type(exc).__name__}: {exc}"
        if self.archive is not None:
            self.archive.add_download(url, self.headers, response, time.monotonic() - started)
        return response.status_code, response.content, ""


def wait_until_answering(url: str, seconds: float, *, clock: Callable[[], float] = time.monotonic,
                         pause: Callable[[float], None] = time.sleep, timeout: float = 5.0,
                         headers: Mapping[str, str] | None = None) -> str | None:
    """Poll ``url`` until any HTTP answer comes (a 404 counts: something listens) or ``seconds`` pass.

    Returns None once it answers, else the last connection error. One try when ``seconds`` is 0.
    """
    deadline = clock() + seconds
    with requests.Session() as session:
        session.headers.update(headers or {})
        while True:
            try:
                session.get(url, timeout=timeout, allow_redirects=False)
                return None
            except requests.RequestException as exc:
                error = f"{type(exc).__name__}: {exc}"
            if clock() >= deadline:
                return error
            pause(min(0.5, max(deadline - clock(), 0.0)))
