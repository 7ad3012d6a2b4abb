"""The processing lifecycle over real HTTP: processing answers, falling eta, then success."""
from __future__ import annotations

from typing import Any, Callable

import pytest

from t2i_contract.protocol import ManualClock
from tests.mock_server.conftest import MockClient, conforms


def test_prefer_header_turns_an_answer_into_processing(mock: MockClient, body: dict[str, Any]) -> None:
    response = mock.text2img(body, headers={"Prefer": "status=processing, eta=2"})
    assert response.status_code == 200
    answer = response.json()
    assert conforms("text2img", response) == []
    assert answer["status"] == "processing"
    assert 1.5 <= answer["eta"] <= 2
    assert answer["output"] == []
    assert answer["fetch_result"] == f"{mock.url}/api/v6/images/fetch/{answer['id']}"
    assert len(answer["future_links"]) == 1
    assert answer["future_links"][0].startswith(mock.url + "/")
    assert answer["meta"]["prompt"] == body["prompt"]


def test_fetch_answers_processing_with_falling_eta_then_the_success(make_mock: Callable[..., MockClient],
                                                                    body: dict[str, Any]) -> None:
    clock = ManualClock()
    mock = make_mock(clock=clock)
    started = mock.text2img(body | {"samples": 2}, headers={"Prefer": "eta=0.6"}).json()
    assert mock.get(started["future_links"][0]).status_code == 404  # not ready yet
    etas: list[float] = []
    for poll in (mock.fetch, mock.fetch_body):
        response = poll(started["id"])
        assert response.status_code == 200
        assert conforms("fetchById" if poll == mock.fetch else "fetch", response) == []
        assert response.json()["status"] == "processing"
        etas.append(response.json()["eta"])
        clock.advance(0.1)
    assert etas == [0.6, 0.5]
    clock.advance(0.4)
    done = mock.fetch(started["id"]).json()
    assert done["status"] == "success"
    assert done["id"] == started["id"]
    assert done["output"] == started["future_links"]
    assert [mock.get(url).status_code for url in started["future_links"]] == [200, 200]
    assert mock.fetch_body(started["id"]).json()["output"] == done["output"]


def test_processing_ratio_one_makes_every_answer_processing(make_mock: Callable[..., MockClient],
                                                            body: dict[str, Any]) -> None:
    mock = make_mock(processing_ratio=1.0, eta=5)
    answers = [mock.text2img(body).json() for _ in range(3)]
    assert [a["status"] for a in answers] == ["processing"] * 3
    assert all(4 <= a["eta"] <= 5 for a in answers)
    # a client can still ask for an immediate answer
    assert mock.text2img(body, headers={"Prefer": "status=success"}).json()["status"] == "success"


def test_processing_ratio_half_gives_both_kinds(make_mock: Callable[..., MockClient], body: dict[str, Any]) -> None:
    mock = make_mock(processing_ratio=0.5, eta=5)
    statuses = {mock.text2img(body).json()["status"] for _ in range(40)}
    assert statuses == {"processing", "success"}  # fails with odds 2 * 0.5**40


def test_unknown_id_is_a_404_in_the_error_shape(mock: MockClient) -> None:
    for response, operation in ((mock.fetch(123456), "fetchById"), (mock.fetch_body(123456), "fetch")):
        assert response.status_code == 404
        assert response.json()["status"] == "error"
        assert "123456" in response.json()["message"]
        assert conforms(operation, response) == []


@pytest.mark.parametrize("huge", [2**63, 2**70, 10**40], ids=["2^63", "2^70", "10^40"])
def test_ids_beyond_the_spec_maximum_are_a_400_naming_the_field_not_a_500(mock: MockClient, huge: int) -> None:
    for response, field, operation in ((mock.fetch(huge), "id", "fetchById"),
                                       (mock.fetch_body(huge), "request_id", "fetch")):
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == field
        assert f"{field} must be at most 9223372036854775807" in response.json()["message"]
        assert conforms(operation, response) == []
    image = mock.get(f"/generations/{huge}/0.png")
    assert image.status_code == 404 and image.json()["status"] == "error"


@pytest.mark.parametrize("bad_id", ["abc", "-1", "1.5", "..%2Fetc"], ids=["letters", "negative", "decimal", "path"])
def test_malformed_path_id_is_a_400_naming_id(mock: MockClient, bad_id: str) -> None:
    response = mock.fetch(bad_id)
    assert response.status_code in (400, 404)
    assert response.json()["status"] == "error"
    if response.status_code == 400:
        assert response.json()["errors"][0]["field"] == "id"


def test_vendor_style_poller_that_fails_on_non_200_gets_the_result(make_mock: Callable[..., MockClient],
                                                                    body: dict[str, Any]) -> None:
    """The vendor's client: up to 10 polls of fetch/{id}, any non-200 raises, stop on success."""
    clock = ManualClock()
    mock = make_mock(clock=clock)
    started = mock.text2img(body, headers={"Prefer": "eta=0.5"}).json()
    for _ in range(10):
        response = mock.post(f"fetch/{started['id']}", {"key": "test-key"})
        if response.status_code != 200:
            raise AssertionError(f"poll got HTTP {response.status_code}")
        if response.json()["status"] == "success":
            break
        clock.advance(0.2)  # the client's pause between polls
    else:
        raise AssertionError("never became ready")
    assert response.json()["output"] == started["future_links"]


def test_expired_jobs_and_their_images_are_gone(make_mock: Callable[..., MockClient], body: dict[str, Any]) -> None:
    clock = ManualClock()
    mock = make_mock(ttl=0.5, clock=clock)
    answer = mock.text2img(body).json()
    assert mock.get(answer["output"][0]).status_code == 200
    clock.advance(0.49)
    assert mock.fetch(answer["id"]).status_code == 200
    clock.advance(0.02)
    assert mock.fetch(answer["id"]).status_code == 404
    assert mock.get(answer["output"][0]).status_code == 404
    mock.text2img(body)  # a write sweeps expired rows
    mock.runtime.store.sweep()
    assert mock.runtime.store.count_jobs() == 1


def test_store_keeps_at_most_max_jobs(make_mock: Callable[..., MockClient], body: dict[str, Any]) -> None:
    mock = make_mock(max_jobs=3)
    ids = [mock.text2img(body).json()["id"] for _ in range(5)]
    mock.runtime.store.sweep()
    assert mock.runtime.store.count_jobs() == 3
    assert mock.fetch(ids[0]).status_code == 404
    assert mock.fetch(ids[-1]).status_code == 200


def test_a_client_for_the_hosted_api_needs_only_a_new_base_url(mock: MockClient, body: dict[str, Any]) -> None:
    """Paths joined to the base URL exactly as a client for https://modelslab.com/api/ joins them."""
    base_url = mock.url + "/api/"
    answer = mock.http.post(base_url + "v6/images/text2img", json=body | {"samples": "2", "safety_checker": "no"},
                            timeout=5).json()
    assert answer["status"] == "success" and len(answer["output"]) == 2
    polled = mock.http.post(base_url + f"v6/images/fetch/{answer['id']}", json={"key": body["key"]}, timeout=5)
    assert polled.status_code == 200 and polled.json()["output"] == answer["output"]
    polled = mock.http.post(base_url + "v6/images/fetch", json={"key": body["key"], "request_id": answer["id"]},
                            timeout=5)
    assert polled.status_code == 200 and polled.json()["id"] == answer["id"]
