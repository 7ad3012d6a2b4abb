"""Issue 18, items 7 and 9: the mock's journal redacts every spelling of a key, keeps ownership, and
``/__mock`` answers only its own Host.

Reproduced before the fixes: ``{"\\u006bey": "SECRET", ...}`` was accepted as the key and the raw
body in ``GET /__mock/requests`` showed it (also for fetch); with ``--keys k1,k2`` the holder of
k2 read k1's key written that way and k1's prompts, where fetch gave k2 a 404; with
``Host: evil.example:PORT`` and a matching ``Origin`` (DNS rebinding), ``GET /__mock/requests``
answered 200 and ``POST /__mock/behaviour`` changed the mock.
"""
from __future__ import annotations

from typing import Any

import pytest
import requests

from .conftest import Launch

K1, K2, ADMIN = "first-key-0123456789", "second-key-9876543210", "operator-key-55555"
JOURNAL = "/__mock/requests"
TIMEOUT = 120.0


def escaped(text: str) -> str:
    """Every character as a JSON \\u escape: the same string, spelt so no byte of it shows."""
    return "".join(f"\\u{ord(c):04x}" for c in text)


def raw_call(target: Any, path: str, body: str) -> requests.Response:
    return target.request("POST", path, data=body.encode(), headers={"Content-Type": "application/json"})


def journal(target: Any, key: str | None, host: str | None = None, **headers: str) -> requests.Response:
    sent = {**({"Authorization": f"Bearer {key}"} if key else {}), **({"Host": host} if host else {}), **headers}
    return target.http.get(target.url + JOURNAL, headers=sent, timeout=TIMEOUT)


def test_an_escaped_key_member_is_redacted_in_every_view(launch: Launch) -> None:
    target = launch("mock", keys=())
    secret = "SECRET-KEY-7a1c9e"
    made = raw_call(target, target.path("text2img"), f'{{"{escaped("key")}": "{secret}", "model_id": "m", '
                                                     f'"prompt": "a lighthouse", "width": 256, "height": 256}}')
    assert made.status_code == 200, made.text
    fetched = raw_call(target, target.path("fetchById", id=made.json()["id"]),
                       f'{{"\\u006bey": "{escaped(secret)}"}}')
    assert fetched.status_code == 200, fetched.text
    shown = journal(target, None)
    assert shown.status_code == 200
    entries = shown.json()["requests"]
    assert len(entries) == 2 and all("[redacted]" in entry["raw"] for entry in entries), entries
    assert secret not in shown.text and escaped(secret) not in shown.text.replace("\\\\", "\\")


def test_each_key_sees_only_its_own_journal_entries_and_the_admin_key_sees_all(launch: Launch) -> None:
    target = launch("mock", keys=(K1, K2), admin_key=ADMIN)
    made = raw_call(target, target.path("text2img"), f'{{"\\u006bey": "{K1}", "model_id": "m", '
                                                     '"prompt": "k1 private prompt", "width": 256, "height": 256}')
    assert made.status_code == 200, made.text
    assert target.fetch_by_id(made.json()["id"], key=K2).status_code == 404  # fetch already kept ownership

    seen_by_k2 = journal(target, K2)
    assert seen_by_k2.status_code == 200
    fetch_path = target.path("fetchById", id=made.json()["id"])
    assert [entry["path"] for entry in seen_by_k2.json()["requests"]] == [fetch_path], seen_by_k2.text  # its own
    assert "k1 private prompt" not in seen_by_k2.text and K1 not in seen_by_k2.text

    seen_by_k1 = journal(target, K1).json()["requests"]
    assert [entry["normalised"]["prompt"] for entry in seen_by_k1] == ["k1 private prompt"]

    assert target.text2img(target.body(key=ADMIN)).status_code == 401  # the admin key is no API key
    everything = journal(target, ADMIN)
    assert everything.status_code == 200
    assert len(everything.json()["requests"]) == 3  # k1's call, k2's fetch and the refused one
    assert K1 not in everything.text and ADMIN not in everything.text

    assert target.http.delete(target.url + JOURNAL, headers={"Authorization": f"Bearer {K2}"},
                              timeout=TIMEOUT).json() == {"cleared": 1}
    assert len(journal(target, ADMIN).json()["requests"]) == 2  # k2 cleared its own entry only


@pytest.mark.parametrize("path", [JOURNAL, "/__mock/behaviour", "/__mock/health"])
def test_a_foreign_host_is_refused_on_every_mock_endpoint(launch: Launch, path: str) -> None:
    target = launch("mock", keys=())
    port = target.url.rsplit(":", 1)[1]
    evil = f"evil.example:{port}"
    read = target.http.get(target.url + path, headers={"Host": evil, "Origin": f"http://{evil}"}, timeout=TIMEOUT)
    assert read.status_code == 403, read.text
    assert read.json()["errors"][0]["field"] == "Host"
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", f"[::1]:{port}"):
        assert target.http.get(target.url + path, headers={"Host": host}, timeout=TIMEOUT).status_code == 200, host


def test_a_rebinding_page_cannot_change_the_behaviour(launch: Launch) -> None:
    target = launch("mock", keys=())
    port = target.url.rsplit(":", 1)[1]
    evil = f"evil.example:{port}"
    changed = target.http.post(target.url + "/__mock/behaviour", json={"code": 503},
                               headers={"Host": evil, "Origin": f"http://{evil}"}, timeout=TIMEOUT)
    assert changed.status_code == 403, changed.text
    assert target.text2img(target.body()).status_code == 200  # the behaviour is still the default
