"""Issue 18, item 9 (second pass): ``/__mock`` answers loopback *or the configured public URL*.

The first pass let ``/__mock`` answer only loopback names and ``--host``: the mock had no public
URL, so one behind a proxy (``Host: mock.example.test``) could not reach its own journal, and its
links named wherever each request came in. ``--public-url`` (one option for ``t2i mock`` and
``t2i serve``, ``protocol/settings.py``) is now the base of the mock's links and a Host the
``/__mock`` endpoints accept; any other name still gets a 403 naming the Host.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.processes import running
from tests.servers.targets import Target
from tests.support import free_port

from .conftest import Launch

PUBLIC = "https://mock.example.test:8443"
TIMEOUT = 120.0
MOCK_ENDPOINTS = ("/__mock/requests", "/__mock/behaviour", "/__mock/health")


def _get(url: str, host: str) -> requests.Response:
    return requests.get(url, headers={"Host": host, "Origin": f"http://{host.lower()}"}, timeout=TIMEOUT)


@pytest.mark.parametrize("path", MOCK_ENDPOINTS)
def test_the_public_urls_host_is_accepted_and_another_refused(launch: Launch, path: str) -> None:
    target = launch("mock", keys=(), public_url=PUBLIC + "/")
    accepted = _get(target.url + path, "mock.example.test:8443")
    assert accepted.status_code == 200, accepted.text[:300]
    assert _get(target.url + path, "MOCK.example.test").status_code == 200  # names are case-blind, port or not
    refused = _get(target.url + path, "evil.example:8443")
    assert refused.status_code == 403, refused.text[:300]
    assert refused.json()["errors"][0]["field"] == "Host"
    assert "--public-url" in refused.json()["message"]
    # a name that merely ends like the public host is another host
    assert _get(target.url + path, "mock.example.test.evil.example").status_code == 403


def test_only_the_public_host_may_change_the_behaviour(launch: Launch) -> None:
    target = launch("mock", keys=(), public_url=PUBLIC)
    refused = requests.post(target.url + "/__mock/behaviour", json={"code": 503},
                            headers={"Host": "evil.example", "Origin": "http://evil.example"}, timeout=TIMEOUT)
    assert refused.status_code == 403, refused.text[:300]
    assert target.text2img(target.body()).status_code == 200  # unchanged
    changed = requests.post(target.url + "/__mock/behaviour", json={"code": 503},
                            headers={"Host": "mock.example.test"}, timeout=TIMEOUT)
    assert changed.status_code == 200, changed.text[:300]
    assert target.text2img(target.body()).status_code == 503  # the operator behind the proxy changed it


def test_the_public_url_heads_the_mocks_links(launch: Launch) -> None:
    target = launch("mock", keys=(), public_url=PUBLIC + "/base/")
    answer = target.text2img(target.body())
    assert answer.status_code == 200, answer.text[:300]
    body = answer.json()
    assert body["output"] and all(link.startswith(PUBLIC + "/base/") for link in body["output"]), body["output"]
    pending = target.text2img(target.body(), headers={"Prefer": "status=processing"}).json()
    assert pending["fetch_result"].startswith(PUBLIC + "/base/"), pending


def test_without_a_public_url_that_host_is_refused(launch: Launch) -> None:
    target = launch("mock", keys=())
    assert _get(target.url + "/__mock/requests", "mock.example.test:8443").status_code == 403


def test_t2i_mock_takes_public_url_and_refuses_a_malformed_one(tmp_path: Path) -> None:
    port = free_port()
    flags = ["--port", str(port), "--db", str(tmp_path / "mock.sqlite3"), "--public-url", PUBLIC]
    with running("mock", flags, tmp_path / "mock.log", port):
        target = Target("mock", f"http://127.0.0.1:{port}")
        assert _get(target.url + "/__mock/requests", "mock.example.test").status_code == 200
        assert _get(target.url + "/__mock/requests", "evil.example").status_code == 403
        answer = target.text2img(target.body())
        target.close()
        assert answer.status_code == 200 and answer.json()["output"][0].startswith(PUBLIC + "/"), answer.text[:300]
    bad = subprocess.run([sys.executable, "-c", "from t2i_contract.spec.cli import run; run()", "mock",
                          "--port", str(free_port()), "--public-url", "ftp://mock.example.test"],
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert bad.returncode != 0 and "--public-url" in bad.stderr and "ftp://mock.example.test" in bad.stderr, bad.stderr
