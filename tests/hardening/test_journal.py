"""Issue 10, item 4: the mock's journal leaks no key, answers no other origin, and stays small.

Reproduced before the fixes (5471b43): ``GET /__mock/requests`` returned API keys (the raw
body, ``normalised.key`` and ``Authorization`` headers) even with ``--keys``, to anyone; it
answered any origin (``Access-Control-Allow-Origin: *``) and its preflight allowed a
cross-origin DELETE; invalid UTF-8 was stored as U+FFFD, 6 bytes per input byte, so eighty
1 MiB bodies grew the store to 488 MB and one GET returned 503 MB.

The admin endpoints take one of the mock's keys; the tests send it the ways a client would
(``Authorization: Bearer``, ``X-API-Key`` and ``?key=``), so they judge the rule, not the form.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from tests.servers.targets import KEY

from .conftest import Launch

OTHER_KEY = "second-key-0123456789"
ADMIN_KEY = "operator-key-0123456789"
JOURNAL = "/__mock/requests"
EVIL = "https://evil.example"
MIB = 1024 * 1024
FEW_MB = 5 * MIB
TIMEOUT = 120.0


def admin(target: Any, method: str, *, key: str | None = KEY, headers: dict[str, str] | None = None,
          params: dict[str, str] | None = None) -> requests.Response:
    sent = dict(headers or {})
    query = dict(params or {})
    if key is not None:
        sent |= {"Authorization": f"Bearer {key}", "X-API-Key": key}
        query |= {"key": key}
    return target.http.request(method, target.url + JOURNAL, headers=sent, params=query, timeout=TIMEOUT)


def _store_bytes(data_dir: Path) -> int:
    return sum(path.stat().st_size for path in data_dir.iterdir() if path.is_file())


def _keys_everywhere(target: Any) -> None:
    """Requests that carry the keys in every place a client puts them."""
    for key in (KEY, OTHER_KEY):
        target.text2img(target.body(key=key), headers={"Authorization": f"Bearer {key}"})
        target.fetch_by_id(1, key=key)
        target.fetch_by_body(1, key=key)
        target.request("POST", target.path("text2img"), data=f'{{"key": "{key}", "prompt": ',
                       headers={"Content-Type": "application/json", "Authorization": key})


def test_the_journal_never_shows_a_key(launch: Launch) -> None:
    target = launch("mock", keys=(KEY, OTHER_KEY), admin_key=ADMIN_KEY)
    _keys_everywhere(target)
    shown = admin(target, "GET", key=ADMIN_KEY)  # every entry (issue 18: each key sees only its own)
    assert shown.status_code == 200, shown.text
    entries = shown.json()["requests"]
    assert len(entries) >= 8, "the journal did not keep the requests"
    assert KEY not in shown.text and OTHER_KEY not in shown.text, "a key is shown in the journal"
    assert ADMIN_KEY not in shown.text


def test_no_key_is_stored_at_rest(launch: Launch, tmp_path: Path) -> None:
    target = launch("mock", keys=(KEY, OTHER_KEY), db_path=tmp_path / "at-rest.sqlite3")
    _keys_everywhere(target)
    assert admin(target, "GET").status_code == 200
    for path in tmp_path.iterdir():
        if path.name.startswith("at-rest"):
            raw = path.read_bytes()
            assert KEY.encode() not in raw and OTHER_KEY.encode() not in raw, f"a key is stored in {path.name}"


def test_with_keys_the_admin_endpoints_need_one(launch: Launch) -> None:
    target = launch("mock", keys=(KEY, OTHER_KEY))
    target.text2img()
    for method in ("GET", "DELETE"):
        assert admin(target, method, key=None).status_code == 401, method
        assert admin(target, method, key="not-a-key").status_code == 401, method
    assert admin(target, "GET").status_code == 200
    assert admin(target, "GET", key=OTHER_KEY).status_code == 200


def test_the_admin_endpoints_never_answer_another_origin(launch: Launch) -> None:
    target = launch("mock")
    api = target.text2img(headers={"Origin": EVIL})
    assert api.headers.get("Access-Control-Allow-Origin") in ("*", EVIL), "the API's CORS must stay open"
    read = admin(target, "GET", headers={"Origin": EVIL})
    assert "Access-Control-Allow-Origin" not in read.headers, read.headers
    for method in ("DELETE", "GET"):
        preflight = target.http.options(target.url + JOURNAL, timeout=TIMEOUT, headers={
            "Origin": EVIL, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization"})
        assert "Access-Control-Allow-Origin" not in preflight.headers, (method, preflight.headers)


def test_eighty_invalid_one_mib_bodies_leave_the_store_under_a_few_mb(launch: Launch, tmp_path: Path) -> None:
    data_dir = tmp_path / "journal-store"
    data_dir.mkdir()
    target = launch("mock", db_path=data_dir / "mock.sqlite3", max_body=2 * MIB, admin_key=ADMIN_KEY)
    body = b"\xff\xfe" * (MIB // 2)
    for _ in range(80):
        answer = target.request("POST", target.path("text2img"), data=body,
                                headers={"Content-Type": "application/json"})
        assert answer.status_code == 400, answer.text[:300]
    shown = admin(target, "GET", key=ADMIN_KEY)  # entries made with no valid key are the operator's to see
    assert shown.status_code == 200
    assert len(shown.content) < FEW_MB, f"one GET returned {len(shown.content)} bytes"
    entries = shown.json()["requests"]
    assert len(entries) == 80
    assert '"truncated": true' in shown.text.replace('"truncated":true', '"truncated": true'), \
        "entries do not say their body was cut"
    assert str(MIB) in shown.text, "entries do not keep the body's true size"
    full = _store_bytes(data_dir)
    assert full < FEW_MB, f"the journal store grew to {full} bytes"
    assert admin(target, "DELETE", key=ADMIN_KEY).status_code == 200
    assert admin(target, "GET", key=ADMIN_KEY).json()["requests"] == []
    assert _store_bytes(data_dir) <= full, "DELETE did not free the space"
