"""The quick path: calls that wait on nothing but the CPU and SQLite take turns, the rest keep their threads.

``FastPath`` runs a text2img, fetch or reload whose body sets no input image and no
webhook, with no simulated latency, one at a time per worker (issue 22: eight request
threads fighting over the GIL cost a third of the mock's throughput). That must not
undo issue 18, item 8: a slow client or a slow input-image URL holds only its own
thread. ``quick_ok`` decides what takes turns; the served tests prove that a body that
trickles in and an init image that trickles in each leave the mock answering text2img
meanwhile. The order of events is the proof, never a time bound.
"""
from __future__ import annotations

import io
import json
import socket
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests
from flask import Flask

from t2i_contract.mock_server import EXTENSION, MockConfig, create_app
from t2i_contract.mock_server.fastpath import QUICK_BODY_BYTES, FastPath
from tests.hardening.answers import PNG_BASE64
from tests.hardening.conftest import Trickle
from tests.held_request import while_an_input_trickles
from tests.processes import running
from tests.support import free_port, wait_for

TIMEOUT = 120.0  # a guard against a hung server, never a claim about speed
TEXT2IMG = "/api/v6/images/text2img"
BODY = {"key": "k", "model_id": "m", "prompt": "a lighthouse", "webhook": None, "track_id": None}


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Mock apps on one store in ``tmp_path`` (as the workers of one server), closed after the test."""
    made: list[Flask] = []

    def make(**settings: Any) -> Flask:
        made.append(create_app(MockConfig(db_path=tmp_path / "m.sqlite3", **settings)))
        return made[-1]

    yield make
    for app in made:
        app.extensions[EXTENSION].close()


@pytest.fixture
def fast_path(apps: Callable[..., Flask]) -> Callable[..., FastPath]:
    def make(**settings: Any) -> FastPath:
        wsgi = apps(**settings).wsgi_app
        assert isinstance(wsgi, FastPath)
        return wsgi

    return make


def _environ(path: str = TEXT2IMG) -> dict[str, Any]:
    return {"REQUEST_METHOD": "POST", "PATH_INFO": path}


@pytest.mark.parametrize(("body", "quick"), [
    (BODY, True),
    (BODY | {"webhook": "http://hooks.example/x"}, False),  # its host is resolved at submission
    (BODY | {"ip_adapter_image": "http://images.example/a.png"}, False),  # fetched
    (BODY | {"ip_adapter_image": PNG_BASE64}, False),  # decoded: image work stays on its thread
    (BODY | {"ip_adapter_image": None}, True),
    (BODY | {"pad": "x" * QUICK_BODY_BYTES}, False),
], ids=["plain", "webhook", "image-url", "image-base64", "image-null", "large"])
def test_what_takes_turns(fast_path: Callable[..., FastPath], body: dict[str, Any], quick: bool) -> None:
    assert fast_path().quick_ok(_environ(), json.dumps(body).encode()) is quick


@pytest.mark.parametrize(("raw", "quick"), [
    (b'{"key": "k", "model_id": "m", "prompt": "p", "webhook" :\n null}', True),
    (b'{"key": "k", "model_id": "m", "prompt": "p", "webhook": null, "webhook": "http://hooks.example/x"}', False),
    (b'{"key": "k", "model_id": "m", "prompt": "p", "extra": {"webhook": "http://hooks.example/x"}, '
     b'"webhook": null}', True),  # a nested key of that name is not the field
    (b'{"key": "k", "model_id": "m", "prompt": "p", "webhook": "null"}', False),
    (b'{"key": "k", "model_id": "m", "prompt": "p", "webhook": nullx}', True),  # not JSON: refused at once
], ids=["null-spaced", "duplicate-last-wins", "nested", "string-null", "not-json"])
def test_the_byte_scan_agrees_with_the_parser(fast_path: Callable[..., FastPath], raw: bytes, quick: bool) -> None:
    assert fast_path().quick_ok(_environ(), raw) is quick


def test_an_escaped_field_name_is_read_as_the_pipeline_reads_it(fast_path: Callable[..., FastPath]) -> None:
    """``\\u0077ebhook`` is ``webhook`` to JSON: the byte scan must not be fooled by it."""
    raw = json.dumps(BODY).encode().replace(b'"webhook": null', b'"\\u0077ebhook": "http://hooks.example/x"')
    assert b'"webhook"' not in raw and json.loads(raw)["webhook"] == "http://hooks.example/x"
    assert fast_path().quick_ok(_environ(), raw) is False


def test_img2img_with_an_image_url_keeps_its_thread(fast_path: Callable[..., FastPath]) -> None:
    body = {"key": "k", "model_id": "m", "prompt": "p", "init_image": "http://images.example/a.png"}
    assert fast_path().quick_ok(_environ("/api/v6/images/img2img"), json.dumps(body).encode()) is False


def test_a_simulated_latency_keeps_its_thread(fast_path: Callable[..., FastPath]) -> None:
    assert fast_path(latency=(5.0, 5.0)).quick_ok(_environ(), json.dumps(BODY).encode()) is False


def test_the_behaviours_latency_keeps_its_thread(fast_path: Callable[..., FastPath],
                                                 apps: Callable[..., Flask]) -> None:
    fast = fast_path()
    raw = json.dumps(BODY).encode()
    assert fast.quick_ok(_environ(), raw) is True
    client = apps().test_client()  # another worker on the same store
    assert client.post("/__mock/behaviour", json={"latency": "5"}).status_code == 200
    assert fast.quick_ok(_environ(), raw) is False


def test_a_quick_call_answers_as_before(fast_path: Callable[..., FastPath]) -> None:
    """Through the WSGI entry point: the body is read once, before the turn, and the pipeline reads it again."""
    fast = fast_path()
    raw = json.dumps(BODY).encode()
    started: list[Any] = []
    environ = {**_environ(), "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(raw)),
               "wsgi.input": io.BytesIO(raw), "wsgi.url_scheme": "http", "HTTP_HOST": "127.0.0.1:4010",
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "4010", "SCRIPT_NAME": ""}
    payload = b"".join(fast(environ, lambda status, headers: started.append(status)))
    assert started == ["200 OK"]
    assert json.loads(payload)["meta"]["prompt"] == "a lighthouse"


def _served(tmp_path: Path) -> Any:
    port = free_port()
    flags = ["--port", str(port), "--webhook-timeout", "600", "--db", str(tmp_path / "m.sqlite3")]
    return running("mock", flags, tmp_path / "mock.log", port)


def test_a_body_that_trickles_in_does_not_hold_the_others(tmp_path: Path) -> None:
    """Half a text2img body sent, the rest held back: another text2img is answered meanwhile."""
    raw = json.dumps(BODY).encode()
    with _served(tmp_path) as mock:
        host, port = mock.url.split("//")[1].split(":")
        with socket.create_connection((host, int(port)), timeout=TIMEOUT) as slow:
            slow.sendall(f"POST {TEXT2IMG} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(raw)}\r\n\r\n".encode() + raw[:10])
            other = requests.post(mock.url + TEXT2IMG, json=BODY, timeout=TIMEOUT)
            slow.setblocking(False)
            with pytest.raises(BlockingIOError):  # the held call has no answer yet
                slow.recv(1)
            slow.setblocking(True)
            slow.sendall(raw[10:])
            answer = slow.recv(65536)
    assert other.status_code == 200, other.text
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def test_an_init_image_that_trickles_in_does_not_hold_text2img(tmp_path: Path) -> None:
    with Trickle() as trickle, _served(tmp_path) as mock:
        answers, in_flight, held = while_an_input_trickles(
            mock.url, trickle, lambda: [requests.post(mock.url + TEXT2IMG, json=BODY, timeout=TIMEOUT)
                                        for _ in range(3)])
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert in_flight, "text2img answered only after the slow img2img had finished"
    assert held.status_code == 400



def _call(fast: FastPath, body: dict[str, Any], path: str = TEXT2IMG) -> tuple[str, dict[str, Any]]:
    raw = json.dumps(body).encode()
    started: list[str] = []
    environ = {**_environ(path), "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(raw)),
               "wsgi.input": io.BytesIO(raw), "wsgi.url_scheme": "http", "HTTP_HOST": "127.0.0.1:4010",
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "4010", "SCRIPT_NAME": ""}
    payload = b"".join(fast(environ, lambda status, headers: started.append(status)))
    return started[0], json.loads(payload)


def _queued_then_led(fast: FastPath, bodies: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Each body sent from a thread of its own while this test leads, so all of them queue; then one lead
    answers them (in one group), and their answers come back in the order of ``bodies``."""
    results: dict[int, tuple[str, dict[str, Any]]] = {}
    with fast._queue_lock:
        fast._leading = True  # this test leads: every call below queues and waits
    threads = [threading.Thread(target=lambda n=n: results.__setitem__(n, _call(fast, bodies[n])))
               for n in range(len(bodies))]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(fast._waiting) == len(bodies), timeout=TIMEOUT, interval=0.01)
    fast._lead()  # answers them together, wakes their threads, gives the lead up
    assert not fast._leading
    for thread in threads:
        thread.join(TIMEOUT)
    return [results[n] for n in range(len(bodies))]


def test_calls_that_queue_are_answered_together_in_one_transaction(fast_path: Callable[..., FastPath]) -> None:
    """While one thread leads, five calls queue; the next lead answers all five in one group."""
    fast = fast_path()
    runtime = fast.pipeline.service
    groups: list[int] = []  # calls answered in each group
    group = runtime.group

    def counting_group() -> Any:
        groups.append(0)
        return group()

    def counting_reply(operation_id: str, environ: dict[str, Any]) -> Any:
        groups[-1] += 1
        return reply(operation_id, environ)

    reply = fast.reply
    runtime.group = counting_group  # type: ignore[method-assign]
    fast.reply = counting_reply  # type: ignore[method-assign]
    bodies = [BODY | {"prompt": f"p{n}"} for n in range(3)] + [BODY | {"key": "other", "prompt": f"q{n}"} for n in range(2)]
    results = _queued_then_led(fast, bodies)
    fast.reply = reply  # type: ignore[method-assign]
    assert groups == [len(bodies)], "the five calls were not answered in one group"
    assert [status for status, _ in results] == ["200 OK"] * len(bodies)
    ids = [answer["id"] for _, answer in results]
    assert len(set(ids)) == len(ids)
    for n, job_id in enumerate(ids):  # committed before they were answered: each is there to fetch
        status, answer = _call(fast, {"key": bodies[n]["key"], "request_id": job_id}, "/api/v6/images/fetch")
        assert status == "200 OK" and answer["id"] == job_id
    assert [e["status"] for e in runtime.store.journal()][-len(bodies):] == [200] * len(bodies)


def test_max_queued_holds_inside_a_group(apps: Callable[..., Flask]) -> None:
    """The count reads the group's own rows: the third processing job of one key is refused, the two before it stay."""
    store = apps().extensions[EXTENSION].store
    meta = {"width": 256, "height": 256, "samples": 1, "num_inference_steps": 20, "prompt": "p"}

    def add() -> Any:
        return store.add_job(meta=meta, base_url="http://x", delay=30, webhook=None, track_id=None,
                             max_pending=2, owner="o")

    before = store.count_jobs()
    with store.group():
        added = [add() for _ in range(3)]
        assert store.count_jobs() == before  # not seen by another connection before the group ends
    assert [job is not None for job in added] == [True, True, False]
    assert store.count_jobs() == before + 2


def test_a_group_that_fails_stores_nothing(apps: Callable[..., Flask]) -> None:
    store = apps().extensions[EXTENSION].store
    meta = {"width": 256, "height": 256, "samples": 1, "num_inference_steps": 20, "prompt": "p"}
    before = store.count_jobs()
    with pytest.raises(RuntimeError), store.group():
        store.add_job(meta=meta, base_url="http://x", delay=0, webhook=None, track_id=None)
        raise RuntimeError("the group fails")
    assert store.count_jobs() == before
    store.add_job(meta=meta, base_url="http://x", delay=0, webhook=None, track_id=None)  # the store still writes
    assert store.count_jobs() == before + 1


def test_a_write_that_fails_fails_its_group_even_when_the_error_was_answered(apps: Callable[..., Flask]) -> None:
    """The pipeline answers a failed write with a 500 and goes on; the group must still store nothing of it."""
    store = apps().extensions[EXTENSION].store
    meta = {"width": 256, "height": 256, "samples": 1, "num_inference_steps": 20, "prompt": "p"}
    before = store.count_jobs(), len(store.journal())
    with pytest.raises(Exception, match="nothing of the group is stored"), store.group():
        store.add_job(meta=meta, base_url="http://x", delay=0, webhook=None, track_id=None, journal={"path": "/a"})
        with pytest.raises(TypeError):  # a meta JSON cannot encode: the insert never happens
            store.add_job(meta=meta | {"prompt": object()}, base_url="http://x", delay=0, webhook=None,
                          track_id=None)
    assert (store.count_jobs(), len(store.journal())) == before


def test_a_group_with_a_failed_write_is_answered_again_call_by_call(fast_path: Callable[..., FastPath]) -> None:
    """One call of five fails to store: the group is taken back and each call answered on its own, so the
    four others are stored once each, fetchable, and only the failing one gets a 500."""
    fast = fast_path()
    store = fast.pipeline.service.store
    insert = store._journal_insert

    def failing_insert(db: Any, writes: Any, entry: dict[str, Any]) -> None:
        if b"boom" in (entry.get("body") or b""):
            raise OSError("disk full")
        insert(db, writes, entry)

    store._journal_insert = failing_insert  # type: ignore[method-assign]
    bodies = [BODY | {"prompt": f"p{n}"} for n in range(2)] + [BODY | {"prompt": "boom"}] + \
        [BODY | {"prompt": f"q{n}"} for n in range(2)]
    before = store.count_jobs()
    results = _queued_then_led(fast, bodies)
    statuses = [status for status, _ in results]
    assert statuses == ["200 OK", "200 OK", "500 INTERNAL SERVER ERROR", "200 OK", "200 OK"], results
    assert store.count_jobs() == before + 4, "a job of the failed group was stored twice, or the failing one kept"
    for n in (0, 1, 3, 4):
        status, answer = _call(fast, {"key": "k", "request_id": results[n][1]["id"]}, "/api/v6/images/fetch")
        assert status == "200 OK" and answer["id"] == results[n][1]["id"]


def test_many_threads_at_once_are_all_answered_and_the_lead_is_given_up(fast_path: Callable[..., FastPath]) -> None:
    """Eight threads, thirty calls each, through the WSGI entry point: every call answered once, ids distinct,
    and when they are done no thread leads and nothing is queued (a lost hand-over would hang a thread)."""
    fast = fast_path()
    answers: list[tuple[str, dict[str, Any]]] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        for i in range(30):
            answer = _call(fast, BODY | {"prompt": f"c{n}-{i}"})
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a thread never got its reply"
    assert [status for status, _ in answers] == ["200 OK"] * 240
    assert len({answer["id"] for _, answer in answers}) == 240
    assert {answer["meta"]["prompt"] for _, answer in answers} == {f"c{n}-{i}" for n in range(8) for i in range(30)}
    assert not fast._leading and not fast._waiting
