"""``t2i proxy`` between a real client (requests) and the mock, over real HTTP."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from typing import Any, Callable, Iterator

import pytest
import requests

from t2i_contract.drift.proxy import NOTES_HEADER, REPORT_HEADER, VIOLATIONS_HEADER, ProxySettings, create_app
from t2i_contract.drift.relink import Relinker
from t2i_contract.spec import load_spec
from tests.support import ServerThread, free_port, wait_for

TEXT2IMG = "/api/v6/images/text2img"
BODY = {"key": "k", "model_id": "f222-diffusion", "prompt": "a lighthouse", "width": 256, "height": 256}


@pytest.fixture(scope="module")
def proxy_url(mock_url: str) -> Iterator[str]:
    with ServerThread(create_app(ProxySettings(upstream=mock_url))) as server:
        yield server.url


def _report(response: requests.Response) -> list[str]:
    return json.loads(response.headers[REPORT_HEADER])


def test_conforming_call_passes_through_with_zero_violations(proxy_url: str, mock_url: str) -> None:
    response = requests.post(proxy_url + TEXT2IMG, json=BODY, headers={"Prefer": "status=success"}, timeout=10)
    assert response.status_code == 200 and response.json()["status"] == "success"
    assert response.headers[VIOLATIONS_HEADER] == "0" and _report(response) == []
    # The answer is the mock's own, but its image URLs lead through the proxy, which checks the download.
    answer = response.json()
    assert all(url.startswith(proxy_url + "/") for url in answer["output"] + answer.get("proxy_links", []))
    image = requests.get(answer["output"][0], timeout=10)
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    assert image.headers[VIOLATIONS_HEADER] == "0", _report(image)
    assert requests.get(answer["output"][0].replace(proxy_url, mock_url), timeout=10).content == image.content


def test_the_upstream_server_and_date_headers_are_not_repeated(proxy_url: str) -> None:
    response = requests.post(proxy_url + TEXT2IMG, json=BODY, headers={"Prefer": "status=success"}, timeout=10)
    image = requests.get(response.json()["output"][0], timeout=10)
    for answer in (response, image):
        for name in ("Server", "Date"):
            assert len(answer.raw.headers.getlist(name)) == 1, (name, answer.raw.headers.getlist(name))
        assert "Transfer-Encoding" not in answer.headers or "Content-Length" not in answer.headers


def test_processing_links_lead_through_the_proxy(proxy_url: str) -> None:
    started = requests.post(proxy_url + TEXT2IMG, json=BODY | {"samples": 2},
                            headers={"Prefer": "status=processing, eta=0.05"}, timeout=10).json()
    assert started["status"] == "processing"
    links = started["future_links"] + [started["fetch_result"]]
    assert len(links) == 3 and all(link.startswith(proxy_url + "/") for link in links)
    done = wait_for(lambda: (lambda a: a if a["status"] == "success" else None)(
        requests.post(started["fetch_result"], json={"key": "k"}, timeout=10).json()))
    for url in started["future_links"]:
        image = requests.get(url, timeout=10)
        assert image.headers[VIOLATIONS_HEADER] == "0", _report(image)
    assert done["output"][0].startswith(proxy_url + "/")


def test_an_image_of_another_size_than_meta_promises_is_a_violation(drifting_server: Callable[..., str]) -> None:
    def bigger_meta(path: str, code: int, body: Any) -> tuple[int, Any]:
        if isinstance(body, dict) and isinstance(body.get("meta"), dict):
            body["meta"]["width"] = 512
        return code, body

    upstream = drifting_server(response_change=bigger_meta)
    with ServerThread(create_app(ProxySettings(upstream=upstream))) as proxy:
        answer = requests.post(proxy.url + TEXT2IMG, json=BODY, headers={"Prefer": "status=success"},
                               timeout=10).json()
        image = requests.get(answer["output"][0], timeout=10)
    assert image.headers[VIOLATIONS_HEADER] == "1"
    assert _report(image)[0].endswith("is 256x256, meta promises 512x256")


def test_relinker_checks_decoding_and_leaves_other_hosts_alone() -> None:
    relinker = Relinker(load_spec(), "http://up:1/base")
    answer = {"output": ["http://up:1/base/i/a.png", "https://cdn.example/b.png"], "fetch_result": "http://up:1/x",
              "meta": {"width": 8, "height": 8, "upscale": False}}
    assert relinker.rewrite(answer, "http://proxy:2")
    assert answer["output"] == ["http://proxy:2/i/a.png", "https://cdn.example/b.png"]
    assert answer["fetch_result"] == "http://up:1/x"  # not under the upstream's base path
    assert relinker.knows("/i/a.png") and not relinker.knows("/b.png")
    assert relinker.image_problems("/i/a.png", 200, b"not a png")[0].startswith("image: GET /i/a.png is not a")
    assert relinker.image_problems("/i/a.png", 404, b"") == ["image: GET /i/a.png answered HTTP 404"]


def test_processing_then_both_fetch_forms_are_checked(proxy_url: str) -> None:
    started = requests.post(proxy_url + TEXT2IMG, json=BODY, headers={"Prefer": "status=processing, eta=0.05"},
                            timeout=10).json()
    assert started["status"] == "processing"
    by_path = requests.post(f"{proxy_url}/api/v6/images/fetch/{started['id']}", json={"key": "k"}, timeout=10)
    by_body = requests.post(f"{proxy_url}/api/v6/images/fetch", json={"key": "k", "request_id": started["id"]},
                            timeout=10)
    for answer in (by_path, by_body):
        assert answer.headers[VIOLATIONS_HEADER] == "0", _report(answer)
        assert answer.json()["id"] == started["id"]


def test_invalid_request_is_forwarded_and_reported_in_header_and_log(
        proxy_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="t2i_contract.drift.proxy")
    response = requests.post(proxy_url + TEXT2IMG, json=BODY | {"width": 2048}, timeout=10)
    assert response.status_code == 400  # the mock's own answer, passed through
    assert response.json()["errors"][0]["field"] == "width"
    assert response.headers[VIOLATIONS_HEADER] == "1"
    assert _report(response) == ["request: width must be at most 1024, got 2048"]
    lines = wait_for(lambda: [r.getMessage() for r in caplog.records if "2048" in r.getMessage()])
    assert lines[0].startswith("POST /api/v6/images/text2img -> 400: 1 contract violation(s)")


def test_fetch_with_a_non_numeric_path_id_is_a_request_violation(proxy_url: str) -> None:
    response = requests.post(f"{proxy_url}/api/v6/images/fetch/abc", json={"key": "k"}, timeout=10)
    assert response.headers[VIOLATIONS_HEADER] == "1" and "abc" in _report(response)[0]


def _drifting_success(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[str, int, Any], Any]:
    def response_change(path: str, code: int, body: Any) -> tuple[int, Any]:
        return code, change(dict(body)) if isinstance(body, dict) and body.get("status") == "success" else body
    return response_change


def test_response_drift_is_reported(drifting_server: Callable[..., str]) -> None:
    upstream = drifting_server(response_change=_drifting_success(lambda b: b | {"id": str(b["id"]), "extra": 1}))
    with ServerThread(create_app(ProxySettings(upstream=upstream))) as proxy:
        response = requests.post(proxy.url + TEXT2IMG, json=BODY, headers={"Prefer": "status=success"}, timeout=10)
    report = _report(response)
    assert response.headers[VIOLATIONS_HEADER] == str(len(report)) == "1"
    assert report == [f"response: id: {str(response.json()['id'])!r} is not of type 'integer'"]
    # A field the spec does not list is allowed by the contract: a note, not a violation.
    assert json.loads(response.headers[NOTES_HEADER]) == [
        'response: "extra" is not in the spec but was sent in 1 of 1 answers']


def test_unreachable_upstream_answers_502_in_the_spec_error_shape() -> None:
    upstream = f"http://127.0.0.1:{free_port()}"
    with ServerThread(create_app(ProxySettings(upstream=upstream))) as proxy:
        response = requests.post(proxy.url + TEXT2IMG, json=BODY, timeout=10)
    assert response.status_code == 502
    assert response.json() == {"status": "error", "message": f"upstream {upstream} did not answer: ConnectionError"}


def test_unknown_post_route_is_reported_and_still_forwarded(proxy_url: str) -> None:
    response = requests.post(proxy_url + "/api/v6/images/txt2img", json=BODY, timeout=10)
    assert response.status_code == 404  # the mock's answer
    assert _report(response) == ["request: POST /api/v6/images/txt2img is not an operation of the spec"]


@pytest.mark.parametrize(("settings", "says"), [({"upstream": "localhost:4010"}, "upstream must be"),
                                                ({"port": 70000}, "port must be")], ids=["scheme", "port"])
def test_settings_reject_bad_values(settings: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        ProxySettings(**settings)


def test_t2i_proxy_command_serves_and_logs_one_line_per_call(mock_url: str) -> None:
    port = free_port()
    env = dict(os.environ, T2I_PROXY_UPSTREAM=mock_url, T2I_PROXY_PORT=str(port))
    process = subprocess.Popen([sys.executable, "-c", "from t2i_contract.spec.cli import run; run()", "proxy"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return requests.post(url + TEXT2IMG, json=BODY | {"samples": 9}, timeout=2).status_code == 400
            except requests.ConnectionError:
                return False

        wait_for(up, timeout=20, interval=0.1)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert "samples must be at most 4, got 9" in stderr and f"-> {mock_url}" in stderr
