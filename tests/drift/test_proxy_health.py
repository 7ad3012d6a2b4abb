"""``t2i proxy`` in front of a server passes ``/healthz`` and ``/readyz`` through as they are: they are no
operation of the contract, so the proxy judges nothing about them (issue 21, item 8)."""
from __future__ import annotations

import requests

from t2i_contract.drift.proxy import VIOLATIONS_HEADER, ProxySettings, create_app
from tests.support import ServerThread


def test_the_probes_pass_through_the_proxy_unjudged(mock_url: str) -> None:
    with ServerThread(create_app(ProxySettings(upstream=mock_url))) as proxy:
        live = requests.get(proxy.url + "/healthz", timeout=30)
        ready = requests.get(proxy.url + "/readyz", timeout=30)
    assert live.status_code == 200 and live.json()["status"] == "ok"
    assert ready.status_code == 200 and ready.json() == requests.get(mock_url + "/readyz", timeout=30).json()
    assert VIOLATIONS_HEADER not in live.headers and VIOLATIONS_HEADER not in ready.headers
