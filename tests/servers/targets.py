"""Both servers of the contract behind one small client, so one table of cases runs against each.

A :class:`Target` is a running server on a free loopback port plus what a case needs to talk to
it: the spec's paths, the key it accepts and a cheap valid text2img body that every server
honours. The kinds: ``mock`` (the Flask app on a test thread), ``backend`` (the reference backend
on the tiny diffusers model, on a test thread) and ``mock_granian`` (``t2i mock`` as users run
it: its own process, on granian). ``serve_mock``, ``serve_mock_process`` and ``serve_backend``
start one with the same neutral settings, translated here into each server's config or flags, so
a case never knows which server it talks to. Nothing else in this folder names a server's
config fields or internals.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

import requests

from t2i_contract.reference_backend import Generator
from t2i_contract.spec import load_spec
from tests.processes import running
from tests.support import ServerThread, free_port

if TYPE_CHECKING:
    from pathlib import Path

    from t2i_contract.reference_backend import GenerationResult
    from t2i_contract.spec import Text2ImgRequest

__all__ = ["KEY", "KINDS", "MODEL_ID", "Target", "serve_backend", "serve_mock", "serve_mock_process"]

KINDS = ("mock", "backend", "mock_granian")
KEY = "test-key"
MODEL_ID = "tiny-sd"  # the tiny model's id; the mock accepts any slug
BACKOFF = 0.01  # webhook retry backoff in seconds, both servers: retries are counted, never timed
WEBHOOK_TIMEOUT = 120.0  # the receivers fetch the job while they answer: never cut that short on a busy machine
PROCESSING_ETA = 0.2  # the mock's simulated queue time when a client asks for processing
HOLD_ETA = 3600.0  # the mock's queue time on a server whose jobs must stay pending
FAIL_PROMPT = "break the generator"  # the backend's generator raises on it: an internal error, a 500
TIMEOUT = 120.0  # per HTTP call: a guard against a hung server, never a claim about speed


class Target:
    """One running server and a ``requests`` session pointed at it.

    ``failing`` is how a client makes this server fail inside (a 500): the fields and headers of
    a text2img call. The spec documents the 500 but no way to cause one, so each server says its own.
    """

    def __init__(self, kind: str, url: str, failing: tuple[dict[str, Any], dict[str, str]] = ({}, {})) -> None:
        self.kind = kind
        self.url = url
        self.failing = failing
        self.http = requests.Session()

    def __repr__(self) -> str:
        return f"Target({self.kind!r}, {self.url!r})"

    @staticmethod
    def path(operation_id: str, **params: Any) -> str:
        """The spec's path of an operation, with its path parameters filled in."""
        route, _, _ = load_spec().operation(operation_id)
        return route.format(**params)

    def request(self, method: str, path: str, *, json: Any = None, data: Any = None,
                headers: dict[str, str] | None = None) -> requests.Response:
        url = path if path.startswith("http") else self.url + path
        return self.http.request(method, url, json=json, data=data, headers=headers, timeout=TIMEOUT)

    @staticmethod
    def body(**fields: Any) -> dict[str, Any]:
        """A valid text2img body both servers can run quickly; keyword arguments override or add."""
        body: dict[str, Any] = {"key": KEY, "model_id": MODEL_ID, "prompt": "a red lighthouse at dawn",
                                "width": 256, "height": 256, "num_inference_steps": 1, "seed": 1234,
                                "enhance_prompt": False}
        body.update(fields)
        return {name: value for name, value in body.items() if value is not None}

    def text2img(self, body: Any = None, *, headers: dict[str, str] | None = None) -> requests.Response:
        return self.request("POST", self.path("text2img"), json=self.body() if body is None else body,
                            headers=headers)

    def fetch_by_id(self, job_id: Any, key: str = KEY) -> requests.Response:
        return self.request("POST", self.path("fetchById", id=job_id), json={"key": key})

    def fetch_by_body(self, job_id: Any, key: str = KEY) -> requests.Response:
        return self.request("POST", self.path("fetch"), json={"key": key, "request_id": job_id})

    def close(self) -> None:
        self.http.close()


@contextmanager
def _serving(kind: str, app: Any, failing: tuple[dict[str, Any], dict[str, str]]) -> Iterator[Target]:
    with ServerThread(app) as thread:
        target = Target(kind, thread.url, failing)
        try:
            yield target
        finally:
            target.close()


@contextmanager
def serve_mock(data_dir: Path, *, max_queued: int | None = None, hold: bool = False,
               url_allow: tuple[str, ...] = ()) -> Iterator[Target]:
    """The mock with a key, fast webhook retries and, with ``hold``, jobs that stay pending.

    With ``url_allow``, private addresses are refused except those (as for every ``url_allow``
    below): the strict URL policy, with the tests' loopback servers let through.
    """
    from t2i_contract.mock_server import EXTENSION, MockConfig, create_app

    config = MockConfig(db_path=data_dir / "mock.sqlite3", keys=(KEY,), webhook_backoff=BACKOFF,
                        webhook_timeout=WEBHOOK_TIMEOUT, eta=HOLD_ETA if hold else PROCESSING_ETA,
                        max_queued=max_queued or 0, private_urls="deny" if url_allow else "allow", url_allow=url_allow)
    app = create_app(config)
    try:
        with _serving("mock", app, ({}, {"Prefer": "code=500"})) as target:  # the mock's documented way
            yield target
    finally:
        app.extensions[EXTENSION].close()


@contextmanager
def serve_mock_process(data_dir: Path, *, max_queued: int | None = None, hold: bool = False,
                       url_allow: tuple[str, ...] = ()) -> Iterator[Target]:
    """``t2i mock`` in its own process, on its default WSGI server, with the settings of :func:`serve_mock`."""
    port = free_port()
    flags = ["--port", str(port), "--db", str(data_dir / "mock.sqlite3"), "--keys", KEY,
             "--webhook-backoff", str(BACKOFF), "--webhook-timeout", str(WEBHOOK_TIMEOUT),
             "--eta", str(HOLD_ETA if hold else PROCESSING_ETA)]
    if max_queued is not None:
        flags += ["--max-queued", str(max_queued)]
    if url_allow:
        flags += ["--private-urls", "deny", "--url-allow", ",".join(url_allow)]
    target = Target("mock_granian", f"http://127.0.0.1:{port}", ({}, {"Prefer": "code=500"}))
    try:
        with running("mock", flags, data_dir / "mock.log", port):
            yield target
    finally:
        target.close()


class Gated(Generator):
    """Runs the shared generator once ``gate`` is set, and breaks on ``FAIL_PROMPT``.

    It never closes the shared generator: the session owns it.
    """

    def __init__(self, inner: Generator, gate: threading.Event) -> None:
        self.inner = inner
        self.gate = gate

    def check(self, request: Text2ImgRequest) -> None:
        self.inner.check(request)

    def generate(self, request: Text2ImgRequest, seed: int, *inputs: Any) -> GenerationResult:
        self.gate.wait()
        if request.prompt == FAIL_PROMPT:
            raise RuntimeError("the generator broke, as the test asked")
        return self.inner.generate(request, seed, *inputs)

    def check_model(self, model_id: str) -> None:
        self.inner.check_model(model_id)

    def load(self, model_id: str) -> None:
        self.inner.load(model_id)

    def close(self) -> None:
        """The session's generator outlives this server."""


@contextmanager
def serve_backend(generator: Generator, data_dir: Path, *, max_queued: int | None = None,
                  hold: bool = False, url_allow: tuple[str, ...] = ()) -> Iterator[Target]:
    """The backend on ``generator`` with a key and fast webhook retries; with ``hold``, no job runs."""
    from t2i_contract.reference_backend import BackendConfig, create_app
    from t2i_contract.reference_backend.app import EXTENSION

    gate = threading.Event()
    if not hold:
        gate.set()
    config = BackendConfig(data_dir=data_dir, keys=(KEY,), webhook_backoff=BACKOFF, webhook_timeout=WEBHOOK_TIMEOUT,
                           max_queued=max_queued or 0, url_allow=url_allow,
                           private_urls="deny" if url_allow else "allow")  # the webhook receiver listens on loopback
    app = create_app(config, generator=Gated(generator, gate))
    try:
        with _serving("backend", app, ({"prompt": FAIL_PROMPT}, {})) as target:
            yield target
    finally:
        gate.set()  # a held job may finish now; the stopping service throws its result away
        app.extensions[EXTENSION].stop()
