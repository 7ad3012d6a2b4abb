"""The journal as stored (mock_server/journal.py): redacted, cut, bounded, filtered, and DELETE gives space back."""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from t2i_contract.mock_server.journal import BODY_PREFIX, REDACTED, JournalQuery, Redactor
from t2i_contract.mock_server.store import JobStore
from tests.mock_server.conftest import MockClient

KEY = "sk-live-0123456789abcdef"


def _entry(path: str = "/api/v6/images/text2img", status: int = 200, body: bytes = b"{}",
           **extra: Any) -> dict[str, Any]:
    return {"at": 0.0, "method": "POST", "path": path, "query": "", "headers": {}, "status": status,
            "body": body, **extra}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    made = JobStore(tmp_path / "j.sqlite3", ttl=60, journal_limit=1000, keys=(KEY,))
    yield made
    made.close()


def _file_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.iterdir() if path.is_file())


@pytest.mark.parametrize("body", [
    json.dumps({"key": KEY, "prompt": "p"}).encode(),
    b'{"prompt": "p", "key" :  "' + KEY.encode() + b'", "x": 1}',
    b'{"key": "an-unknown-key-\\"quoted\\"", "prompt": ',   # not JSON, and not one of --keys
    b'{"prompt": "' + b"x" * (BODY_PREFIX - 20) + b'", "key": "' + KEY.encode() + b'"}',  # cut by the prefix
    b"\xff\xfe" + KEY.encode() + b"\xff",                       # not UTF-8 at all
], ids=["json", "spaced", "unknown-key-broken-json", "key-across-the-cut", "invalid-utf8"])
def test_no_key_survives_in_what_is_shown(store: JobStore, body: bytes) -> None:
    store.record(_entry(body=body, headers={"Authorization": f"Bearer {KEY}", "X-Api-Key": KEY, "Prefer": KEY},
                        query=f"key={KEY}&other=1", normalised={"key": KEY, "prompt": "p"}))
    [shown] = store.journal()
    text = json.dumps(shown)
    kept = shown.get("raw", "").encode() or base64.b64decode(shown.get("raw_base64", ""))
    for where in (text.encode(), kept):
        assert KEY.encode() not in where and b"an-unknown-key" not in where, where[:200]
    assert shown["headers"] == {"Authorization": REDACTED, "X-Api-Key": REDACTED, "Prefer": REDACTED}
    assert shown["normalised"]["key"] == REDACTED and "other=1" in shown["query"]
    assert shown["size"] == len(body)


def test_the_redactor_can_fail_to_find_a_key_it_is_not_told_of() -> None:
    """Guard: a key outside a ``key`` member is only found when it is one of --keys."""
    body = b'{"prompt": "' + KEY.encode() + b'"}'
    assert KEY.encode() in Redactor(()).body(body)
    assert KEY.encode() not in Redactor((KEY,)).body(body)


def test_a_big_invalid_body_keeps_a_prefix_as_base64_with_its_true_size(store: JobStore) -> None:
    body = b"\xff\xfe" * 300_000
    store.record(_entry(status=400, body=body))
    [shown] = store.journal()
    assert (shown["size"], shown["truncated"]) == (len(body), True)
    assert "raw" not in shown and base64.b64decode(shown["raw_base64"]) == body[:BODY_PREFIX]


def test_a_utf8_body_cut_inside_a_character_is_still_shown_as_text(store: JobStore) -> None:
    body = b"a" * (BODY_PREFIX - 1) + "é".encode() * 10
    store.record(_entry(body=body))
    [shown] = store.journal()
    assert shown["raw"] == "a" * (BODY_PREFIX - 1) and shown["truncated"] is True


def test_the_byte_bound_drops_the_oldest_entries(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "b.sqlite3", ttl=60, journal_limit=1000, journal_bytes=5 * BODY_PREFIX)
    for n in range(12):
        store.record(_entry(body=bytes([0x80 + n]) * (2 * BODY_PREFIX)))  # not UTF-8: shown as base64
    kept = store.journal()
    store.close()
    assert 3 <= len(kept) < 12
    assert [base64.b64decode(e["raw_base64"])[0] - 0x80 for e in kept] == list(range(12 - len(kept), 12))


def test_filters_limit_since_path_and_status(store: JobStore) -> None:
    for path, status in [("/a/text2img", 200), ("/a/fetch/1", 404), ("/a/text2img", 400), ("/a/fetch/2", 200)]:
        store.record(_entry(path=path, status=status))
    seqs = [e["seq"] for e in store.journal()]
    assert [e["path"] for e in store.journal(JournalQuery(path="/a/fetch"))] == ["/a/fetch/1", "/a/fetch/2"]
    assert [e["status"] for e in store.journal(JournalQuery(status="4xx"))] == [404, 400]
    assert [e["seq"] for e in store.journal(JournalQuery(status="200"))] == [seqs[0], seqs[3]]
    assert [e["seq"] for e in store.journal(JournalQuery(since=seqs[0], limit=1))] == [seqs[3]]


def test_limit_keeps_the_newest_entries_oldest_first(store: JobStore) -> None:
    """The mock's page lists the newest first: ?limit=N is the newest N, in the journal's order."""
    for path in ("/a/1", "/a/2", "/a/3"):
        store.record(_entry(path=path, status=200))
    assert [e["path"] for e in store.journal(JournalQuery(limit=2))] == ["/a/2", "/a/3"]
    assert [e["path"] for e in store.journal(JournalQuery(limit=1, status="2xx"))] == ["/a/3"]


def test_delete_gives_the_space_back_to_the_file_system(tmp_path: Path) -> None:
    folder = tmp_path / "space"
    folder.mkdir()
    store = JobStore(folder / "j.sqlite3", ttl=60, journal_limit=1000)
    for n in range(200):
        store.record(_entry(body=bytes([n % 250 + 1]) * BODY_PREFIX))
    full = _file_bytes(folder)
    cleared = store.clear_journal()
    store.close()
    assert full > 200 * BODY_PREFIX and cleared == 200
    assert _file_bytes(folder) < full / 4, (full, _file_bytes(folder))


def test_the_journal_endpoint_filters_and_names_a_bad_filter(make_mock: Callable[..., MockClient],
                                                             body: dict[str, Any]) -> None:
    mock = make_mock()
    mock.text2img(body)
    mock.fetch(1)
    shown = mock.get("/__mock/requests?path=/api/v6/images/fetch&status=4xx").json()["requests"]
    assert [e["status"] for e in shown] == [404]
    for query, field in (("limit=-1", "limit"), ("since=x", "since"), ("status=9", "status")):
        answer = mock.get(f"/__mock/requests?{query}")
        assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == field, answer.text
