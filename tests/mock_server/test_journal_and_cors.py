"""The request journal at /__mock/requests, and CORS headers for browser clients."""
from __future__ import annotations

from typing import Any, Callable

import requests

from tests.mock_server.conftest import MockClient


def test_journal_lists_requests_raw_and_normalised_newest_last(make_mock: Callable[..., MockClient],
                                                              upstream_body: dict[str, Any]) -> None:
    mock = make_mock()
    answer = mock.text2img(upstream_body, headers={"X-Requested-With": "my-client"}).json()
    mock.fetch(answer["id"])
    mock.text2img({"prompt": "no key"})
    entries = mock.get("/__mock/requests").json()["requests"]
    assert [e["path"] for e in entries] == ["/api/v6/images/text2img", "/api/v6/images/fetch/%d" % answer["id"],
                                            "/api/v6/images/text2img"]
    first, second, third = entries
    assert first["raw"].startswith("{") and '"width": "512"' in first["raw"]
    assert first["normalised"]["width"] == 512
    assert first["normalised"]["lora_strength"] == [0.45, 0.55]
    assert first["normalised"]["seed"] == answer["meta"]["seed"]
    assert first["normalised"]["key"] == "[redacted]" and "your_api_key" not in first["raw"]
    assert first["headers"]["X-Requested-With"] == "my-client"
    assert (first["status"], first["job_id"]) == (200, answer["id"])
    assert second["normalised"] == {"key": "[redacted]", "request_id": answer["id"]}
    assert third["status"] == 400 and "normalised" not in third
    assert entries[0]["seq"] < entries[1]["seq"] < entries[2]["seq"]


def test_delete_clears_the_journal(make_mock: Callable[..., MockClient], body: dict[str, Any]) -> None:
    mock = make_mock()
    mock.text2img(body)
    mock.text2img(body)
    cleared = mock.http.delete(mock.url + "/__mock/requests", timeout=5)
    assert cleared.status_code == 200
    assert cleared.json() == {"cleared": 2}
    assert mock.get("/__mock/requests").json() == {"requests": []}
    mock.text2img(body)
    assert len(mock.get("/__mock/requests").json()["requests"]) == 1


def test_journal_keeps_only_the_newest_entries(make_mock: Callable[..., MockClient], body: dict[str, Any]) -> None:
    mock = make_mock(journal_limit=3)
    for n in range(6):
        mock.text2img(body | {"prompt": f"picture {n}"})
    mock.runtime.store.sweep()
    entries = mock.get("/__mock/requests").json()["requests"]
    assert [e["normalised"]["prompt"] for e in entries] == ["picture 3", "picture 4", "picture 5"]


def test_limit_gives_the_newest_requests(make_mock: Callable[..., MockClient], body: dict[str, Any]) -> None:
    """The mock's page lists the newest first: ?limit=1 is the last request, not the first (issue 21)."""
    mock = make_mock()
    for n in range(3):
        mock.text2img(body | {"prompt": f"picture {n}"})
    newest = mock.get("/__mock/requests?limit=1").json()["requests"]
    assert [e["normalised"]["prompt"] for e in newest] == ["picture 2"]
    two = mock.get("/__mock/requests?limit=2").json()["requests"]
    assert [e["normalised"]["prompt"] for e in two] == ["picture 1", "picture 2"]


def test_answers_carry_cors_headers(mock: MockClient, body: dict[str, Any]) -> None:
    answer = mock.text2img(body, headers={"Origin": "http://localhost:3000"})
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    error = mock.text2img({}, headers={"Origin": "http://localhost:3000"})
    assert error.headers["Access-Control-Allow-Origin"] == "*"
    image = mock.get(answer.json()["output"][0])
    assert image.headers["Access-Control-Allow-Origin"] == "*"


def test_preflight_allows_json_and_the_prefer_header(mock: MockClient) -> None:
    response = requests.options(
        mock.url + "/api/v6/images/text2img",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type, prefer"},
        timeout=5,
    )
    assert response.status_code in (200, 204)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "content-type" in allowed and "prefer" in allowed
