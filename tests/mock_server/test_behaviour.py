"""``/__mock/behaviour``: the mock's behaviour for the next calls, set over HTTP without a restart.

Each test starts its own mock (``make_mock``): the behaviour is state every worker shares.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
import requests

from t2i_contract.mock_server.behaviour import Behaviour, BehaviourFile

from .conftest import MockClient

BEHAVIOUR = "/__mock/behaviour"
EVIL = "https://evil.example"


def test_processing_set_over_http_applies_to_the_next_text2img(make_mock: Callable[..., MockClient],
                                                               body: dict[str, Any]) -> None:
    mock = make_mock()
    assert mock.text2img(body).json()["status"] == "success"
    shown = mock.post(BEHAVIOUR, {"status": "processing", "eta": 3})
    assert shown.status_code == 200 and shown.json()["prefer"] == "status=processing, eta=3"
    answer = mock.text2img(body).json()
    assert answer["status"] == "processing" and answer["eta"] == 3, answer
    assert mock.http.delete(mock.url + BEHAVIOUR).json()["active"] is False
    assert mock.text2img(body).json()["status"] == "success"


def test_a_clients_own_prefer_wins_over_the_behaviour(make_mock: Callable[..., MockClient],
                                                      body: dict[str, Any]) -> None:
    mock = make_mock()
    mock.post(BEHAVIOUR, {"status": "processing", "eta": 5})
    assert mock.text2img(body, headers={"Prefer": "status=success"}).json()["status"] == "success"


def test_a_forced_code_applies_only_where_the_operation_documents_it(make_mock: Callable[..., MockClient],
                                                                     body: dict[str, Any]) -> None:
    mock = make_mock()
    job = mock.text2img(body).json()["id"]
    assert mock.post(BEHAVIOUR, {"code": 402}).status_code == 200
    assert mock.text2img(body).status_code == 402
    assert mock.fetch(job).status_code == 200, "fetch does not document 402: it must answer as usual"
    journal = mock.get("/__mock/requests").json()["requests"]
    assert [e.get("behaviour") for e in journal if e["path"].endswith("/text2img")][-1] == "code=402"


@pytest.mark.parametrize(("field", "value"), [("status", "done"), ("eta", -1), ("eta", "3"), ("code", 418),
                                              ("code", 200), ("latency", "fast"), ("colour", "red")],
                         ids=["status", "eta-negative", "eta-string", "code-undocumented", "code-success",
                              "latency", "unknown-field"])
def test_a_bad_behaviour_is_a_400_naming_the_field(make_mock: Callable[..., MockClient],
                                                   field: str, value: Any) -> None:
    mock = make_mock()
    answer = mock.post(BEHAVIOUR, {field: value})
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"][0]["field"] == field and repr(value) in answer.json()["message"]
    assert mock.get(BEHAVIOUR).json()["active"] is False


def test_with_keys_the_behaviour_needs_one(make_mock: Callable[..., MockClient]) -> None:
    mock = make_mock(keys=("admin-key-123",))
    assert mock.post(BEHAVIOUR, {"code": 503}).status_code == 401
    assert mock.post(BEHAVIOUR, {"code": 503}, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert mock.post(BEHAVIOUR, {"code": 503}, headers={"Authorization": "Bearer admin-key-123"}).status_code == 200
    assert mock.get(BEHAVIOUR + "?key=admin-key-123").json()["code"] == 503


def test_another_origin_cannot_read_or_set_it(make_mock: Callable[..., MockClient]) -> None:
    mock = make_mock()
    refused = mock.post(BEHAVIOUR, {"code": 503}, headers={"Origin": EVIL})
    assert refused.status_code == 403 and refused.json()["errors"][0]["field"] == "Origin"
    assert mock.post(BEHAVIOUR, data="status=processing",
                     headers={"Origin": EVIL, "Content-Type": "text/plain"}).status_code == 403
    assert mock.http.get(mock.url + BEHAVIOUR, headers={"Origin": EVIL}).status_code == 403
    assert mock.get(BEHAVIOUR).json()["active"] is False
    assert mock.post(BEHAVIOUR, {"code": 503}, headers={"Origin": mock.url}).status_code == 200


def test_every_worker_on_the_store_sees_a_change(tmp_path: Path) -> None:
    writer, reader = BehaviourFile(tmp_path / "m.sqlite3"), BehaviourFile(tmp_path / "m.sqlite3")
    assert reader.current() == Behaviour()
    writer.set(Behaviour(status="processing", eta=2.0))
    assert reader.current() == Behaviour(status="processing", eta=2.0)
    writer.set(Behaviour(code=503))
    assert reader.current() == Behaviour(code=503)
    writer.set(Behaviour())
    assert reader.current() == Behaviour() and not writer.path.exists()


def test_a_call_reads_the_file_only_after_a_change_was_marked(tmp_path: Path) -> None:
    """The mark, not the file, says when to read: a file changed behind the mark's back is not read (a call costs
    no file-system access), the next marked change is; a file a stopped mock left (--db) is read at the start."""
    writer = BehaviourFile(tmp_path / "m.sqlite3")
    writer.set(Behaviour(code=503))
    writer.close()
    reader = BehaviourFile(tmp_path / "m.sqlite3")  # as a worker of the next run on the same --db
    assert reader.current() == Behaviour(code=503)
    reader.path.write_text('{"code": 500}', "utf-8")
    assert reader.current() == Behaviour(code=503), "the file was read again without a change being marked"
    BehaviourFile(tmp_path / "m.sqlite3").set(Behaviour(status="processing"))
    assert reader.current() == Behaviour(status="processing")


def test_both_workers_of_a_t2i_mock_apply_the_behaviour_one_of_them_took(tmp_path: Path) -> None:
    from tests.processes import running
    from tests.support import free_port, wait_for

    port = free_port()
    with running("mock", ["--workers", "2", "--port", str(port)], tmp_path / "mock.log", port) as mock:
        set_by = requests.post(mock.url + BEHAVIOUR, json={"code": 503}, timeout=60)
        assert set_by.status_code == 200
        seen: dict[str, int] = {}

        def both_workers_answered() -> bool:
            answer = requests.post(mock.url + "/api/v6/images/text2img", headers={"Connection": "close"},
                                   json={"key": "k", "model_id": "m", "prompt": "p"}, timeout=60)
            seen[answer.headers["X-T2I-Mock-Worker"]] = answer.status_code
            return len(seen) == 2

        wait_for(both_workers_answered, timeout=120, interval=0)
        assert set(seen.values()) == {503}, seen
