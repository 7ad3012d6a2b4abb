"""``t2i test`` and ``t2i proxy`` give the same verdict on the same answer, word for word.

A canned upstream serves one answer per case over real HTTP. The contract suite's
client fetches it and its ``conformance`` check judges it; the proxy forwards the
same request to the same upstream and reports in its headers. Both must agree:
the same problems, so the same pass or fail.
"""
from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
import requests
from werkzeug.wrappers import Request, Response

from t2i_contract.contract_tests import checks
from t2i_contract.contract_tests.client import Client
from t2i_contract.drift.proxy import REPORT_HEADER, VIOLATIONS_HEADER, ProxySettings, create_app
from t2i_contract.spec import load_spec
from tests.support import ServerThread

SPEC = load_spec()
BODY = {"key": "k", "model_id": "f222-diffusion", "prompt": "a lighthouse", "width": 256, "height": 256}
SUCCESS = {"status": "success", "id": 7, "output": ["http://127.0.0.1/a.png"], "meta": {"seed": 1}}
JSON = "application/json"

# case -> (HTTP status, Content-Type, raw body, whether the contract accepts it)
CASES: dict[str, tuple[int, str, bytes, bool]] = {
    "success": (200, JSON, json.dumps(SUCCESS).encode(), True),
    "processing": (200, JSON, json.dumps({"status": "processing", "id": 7, "eta": 2.5, "output": []}).encode(), True),
    "error-400": (400, JSON, json.dumps({"status": "error", "message": "width must be at most 1024"}).encode(), True),
    "undocumented-field": (200, JSON, json.dumps(SUCCESS | {"nsfw_score": 0.1}).encode(), True),
    "id-as-string": (200, JSON, json.dumps(SUCCESS | {"id": "7"}).encode(), False),
    "missing-output": (200, JSON, json.dumps({k: v for k, v in SUCCESS.items() if k != "output"}).encode(), False),
    "unknown-status": (200, JSON, json.dumps(SUCCESS | {"status": "completed"}).encode(), False),
    "undocumented-status": (418, JSON, json.dumps({"status": "error", "message": "teapot"}).encode(), False),
    "not-json": (200, JSON, b"<html>oops</html>", False),
    "html-content-type": (200, "text/html; charset=utf-8", json.dumps(SUCCESS).encode(), False),
}


class _Canned:
    """A WSGI app that answers every call with the current case's answer."""

    def __init__(self) -> None:
        self.answer: tuple[int, str, bytes] = (200, JSON, b"{}")

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        Request(environ).get_data()
        status, content_type, raw = self.answer
        return Response(raw, status=status, content_type=content_type)(environ, start_response)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[_Canned, str, str]]:
    canned = _Canned()
    with ServerThread(canned) as upstream, ServerThread(create_app(ProxySettings(upstream=upstream.url))) as proxy:
        yield canned, upstream.url, proxy.url


@pytest.mark.parametrize("case", list(CASES))
def test_contract_suite_and_proxy_give_the_same_verdict(case: str, servers: tuple[_Canned, str, str]) -> None:
    canned, upstream, proxy = servers
    status, content_type, raw, conforms = CASES[case]
    canned.answer = (status, content_type, raw)

    client = Client(SPEC, upstream, key="k", timeout=10, retries=0, max_retry_wait=0)
    try:
        suite_problems = checks.conformance(SPEC, client.text2img(BODY))
    finally:
        client.close()
    answer = requests.post(proxy + SPEC.operation("text2img")[0], json=BODY, timeout=10)
    proxy_problems = [p.removeprefix("response: ") for p in json.loads(answer.headers[REPORT_HEADER])]

    assert answer.status_code == status and answer.content == raw  # the proxy passes the answer through
    assert proxy_problems == suite_problems
    assert answer.headers[VIOLATIONS_HEADER] == str(len(suite_problems))
    assert (suite_problems == []) is conforms, suite_problems
