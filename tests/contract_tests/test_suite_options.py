"""``t2i test``'s run options over real HTTP: a stalled server ends the run after one wait,
``--workers`` sends in parallel with the same report, ``-H`` reaches every request,
``--wait`` waits for a server that is starting, and each failure shows its own answer."""
from __future__ import annotations

import threading
from typing import Any, Callable, Iterable

import pytest
from click.testing import CliRunner
from flask import Flask

from t2i_contract.contract_tests.cli import command
from t2i_contract.contract_tests.client import wait_until_answering
from t2i_contract.contract_tests.settings import Settings
from t2i_contract.contract_tests.suite import run_suite
from t2i_contract.mock_server import MockConfig
from tests.contract_tests.broken import BREAKAGES, VALID_KEY, BrokenServer
from tests.contract_tests.conftest import mock_app_for
from tests.support import ServerThread, free_port

STALL_WAIT = 30.0  # how long the concurrency probe waits for a second request: generous, never reached


class Recorder:
    """WSGI middleware keeping each request's path and headers, and whether two API calls were ever in flight.

    Image downloads do not count: the suite fetches a webhook's images as the webhook arrives, on its
    receiver's thread, beside whatever the run sends next, with or without ``--workers``.
    """

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.overlapped = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
        path = environ.get("PATH_INFO", "")
        api = path.startswith("/api/")
        with self.lock:
            self.requests.append((path, headers))
            self.in_flight += api
            if self.in_flight > 1:
                self.overlapped.set()
            # the defaults check sends the first text2img alone; the generated bodies follow
            probe = path.endswith("/text2img") and sum(p.endswith("/text2img") for p, _ in self.requests) > 1
        try:
            if probe and not self.overlapped.is_set():
                self.overlapped.wait(self.probe_wait)
            return list(self.app(environ, start_response))
        finally:
            with self.lock:
                self.in_flight -= api

    probe_wait = 0.0

    def fetches(self) -> int:
        return sum("/fetch" in path for path, _ in self.requests)


def test_a_server_whose_jobs_never_finish_fails_lifecycle_after_one_wait(
        fast_settings: Callable[..., Settings]) -> None:
    breakage = next(b for b in BREAKAGES if b.name == "processing-forever")
    settings = fast_settings("http://127.0.0.1:1")  # for its fetch_margin
    with mock_app_for(MockConfig(processing_ratio=1.0, eta=1.0)) as app:
        recorder = Recorder(BrokenServer(app, breakage))
        with ServerThread(recorder) as server:
            report = run_suite(fast_settings(server.url))
    text = report.render_text()
    assert "lifecycle" in report.failed, text
    assert "still processing after eta 1s" in report.results["lifecycle"].failures[0].seen
    assert "processing answer(s) not followed" in text
    # One generation is polled until eta + margin (a poll every 0.2 s at most), plus the six fetches of
    # unknown ids; following every processing answer made hundreds of fetches.
    polls_of_one_wait = (1.0 + settings.fetch_margin) / 0.2 + 2
    assert recorder.fetches() <= polls_of_one_wait + 6, recorder.fetches()


def test_a_stalled_generation_stops_another_follow_at_its_next_answer(mock_url: str) -> None:
    from t2i_contract.contract_tests.client import Client, Exchange
    from t2i_contract.contract_tests.polling import follow
    from t2i_contract.spec import load_spec

    spec = load_spec()
    client = Client(spec, mock_url, key="k", timeout=10, retries=0, max_retry_wait=0)
    started = client.text2img({"key": "k", "model_id": "m", "prompt": "p", "width": 256, "height": 256},
                              {"Prefer": "status=processing, eta=600"})
    stalled = threading.Event()
    stalled.set()
    polled = follow(client, started, margin=0, stalled=stalled, pause=lambda s: None)
    assert isinstance(started, Exchange) and started.branch == "processing"
    assert polled.abandoned and not polled.timed_out and polled.problems == []
    fresh = threading.Event()
    clock = iter([0.0, 700.0])
    polled = follow(client, started, margin=0, stalled=fresh, pause=lambda s: None, clock=lambda: next(clock))
    assert polled.timed_out and fresh.is_set()
    client.close()


def _exercised(report: Any) -> dict[str, int]:
    return {name: result.exercised for name, result in report.results.items()}


@pytest.mark.slow
def test_workers_send_in_parallel_and_report_the_same(mock_app: Flask,
                                                      fast_settings: Callable[..., Settings]) -> None:
    sequential = Recorder(mock_app)
    with ServerThread(sequential) as server:
        alone = run_suite(fast_settings(server.url, webhook_timeout=5, max_examples=2))
    parallel = Recorder(mock_app)
    parallel.probe_wait = STALL_WAIT  # the first text2img waits for a second one to arrive beside it
    with ServerThread(parallel) as server:
        together = run_suite(fast_settings(server.url, workers=4, webhook_timeout=5, max_examples=2))
    assert parallel.overlapped.is_set() and not sequential.overlapped.is_set()
    assert together.ok and alone.ok, together.render_text()
    assert _exercised(together) == _exercised(alone)


def test_extra_headers_go_with_every_request_image_downloads_included(
        mock_app: Flask, fast_settings: Callable[..., Settings]) -> None:
    recorder = Recorder(mock_app)
    with ServerThread(recorder) as server:
        report = run_suite(fast_settings(server.url, max_examples=1, headers=("X-Team: contract tests",
                                                                               "X-Trace:1")))
    assert report.ok, report.render_text()
    paths = {path for path, _ in recorder.requests}
    assert any(path.endswith(".png") for path in paths)
    assert all(h.get("X-Team") == "contract tests" and h.get("X-Trace") == "1" for _, h in recorder.requests)


def test_a_header_without_a_colon_is_a_usage_error_naming_it() -> None:
    result = CliRunner().invoke(command, ["--base-url", "http://127.0.0.1:1", "-H", "X-Team"])
    assert result.exit_code == 2 and "-H" in result.output and "'X-Team'" in result.output


def test_wait_polls_until_the_server_answers(mock_app: Flask) -> None:
    port = free_port()
    started: list[ServerThread] = []
    tries: list[float] = []

    def pause(seconds: float) -> None:  # the server comes up while the suite waits
        tries.append(seconds)
        if not started:
            started.append(ServerThread(mock_app, port=port).__enter__())

    try:
        assert wait_until_answering(f"http://127.0.0.1:{port}", 60, pause=pause) is None
    finally:
        for server in started:
            server.__exit__(None, None, None)
    assert len(tries) == 1


def test_wait_gives_up_at_its_deadline_and_t2i_test_exits_2() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    now = [0.0]

    def pause(seconds: float) -> None:
        now[0] += seconds

    error = wait_until_answering(url, 3, clock=lambda: now[0], pause=pause)
    assert error is not None and "ConnectionError" in error and now[0] >= 3
    result = CliRunner().invoke(command, ["--base-url", url, "--wait", "0.5"])
    assert result.exit_code == 2 and "--wait" in result.output


def test_each_failure_shows_its_own_response(keyed_mock_app: Flask,
                                             fast_settings: Callable[..., Settings]) -> None:
    breakage = next(b for b in BREAKAGES if b.name == "auth-not-enforced")
    with ServerThread(BrokenServer(keyed_mock_app, breakage)) as server:
        report = run_suite(fast_settings(server.url, key=VALID_KEY, max_examples=1))
    failures = report.results["auth"].failures
    # a wrong key on every operation that takes one: text2img, both fetches, img2img, inpaint, model_reload
    assert [f.operation for f in failures] == ["text2img", "fetchById", "fetch", "img2img", "inpaint",
                                               "modelReload"], report.render_text()
    text2img, fetch = failures[:2]
    assert "/text2img" in text2img.reproducer and "/fetch/" in fetch.reproducer
    assert '"output"' in text2img.response and text2img.response != fetch.response
    assert len({f.reproducer for f in failures}) == len(failures)
