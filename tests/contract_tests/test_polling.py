"""Following a processing answer, over real HTTP, with time injected: no test waits for the clock."""
from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
from werkzeug.wrappers import Request, Response

from t2i_contract.contract_tests.client import Client, Exchange
from t2i_contract.contract_tests.polling import follow
from t2i_contract.spec import load_spec
from tests.support import ServerThread

SPEC = load_spec()
PROCESSING = {"status": "processing", "id": 9, "eta": 30, "output": []}
SUCCESS = {"status": "success", "id": 9, "output": ["http://127.0.0.1/a.png"], "meta": {}}


class _Script:
    """Answers fetches from a list, repeating the last answer; remembers the paths asked."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, Any]] = []
        self.paths: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.paths.append(request.path)
        status, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return Response(json.dumps(body), status=status, mimetype="application/json")(environ, start_response)


@pytest.fixture
def script() -> Iterator[tuple[_Script, Client]]:
    app = _Script()
    with ServerThread(app) as server:
        client = Client(SPEC, server.url, key="k", timeout=10, retries=0, max_retry_wait=0)
        yield app, client
        client.close()


def _started() -> Exchange:
    return Exchange("POST", "http://h/", "text2img", status=200, json=PROCESSING)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def test_polls_both_fetch_forms_until_success(script: tuple[_Script, Client]) -> None:
    app, client = script
    app.answers = [(200, PROCESSING), (200, PROCESSING), (200, SUCCESS)]
    clock, seen = _Clock(), []
    polled = follow(client, _started(), margin=5, on_answer=seen.append, clock=clock, pause=clock.pause)
    assert polled.result is not None and polled.result.json == SUCCESS and polled.problems == []
    assert [e.operation for e in seen] == ["fetchById", "fetch", "fetchById"]
    assert clock.pauses == [2.0, 2.0]  # a fifth of the eta (6 s), capped at 2 s


def test_gives_up_after_eta_and_margin_on_the_injected_clock(script: tuple[_Script, Client]) -> None:
    app, client = script
    app.answers = [(200, PROCESSING)]
    clock = _Clock()
    polled = follow(client, _started(), margin=5, clock=clock, pause=clock.pause)
    assert polled.timed_out and polled.result is None
    assert "still processing after eta 30s + 5s margin" in polled.problems[-1][0]
    assert clock.now > 35


def test_an_error_while_polling_is_a_problem_not_a_wait(script: tuple[_Script, Client]) -> None:
    app, client = script
    app.answers = [(404, {"status": "error", "message": "gone"})]
    polled = follow(client, _started(), margin=5, clock=_Clock(), pause=lambda s: None)
    assert not polled.timed_out and polled.result is None
    assert polled.problems[0][0] == ("polling generation 9 got HTTP 404 with status 'error' "
                                     "instead of processing or success")
