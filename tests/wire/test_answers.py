"""The answers: every body the builders make is one the spec accepts, and clients read them back."""
from __future__ import annotations

import copy
import dataclasses

import pytest

from t2i_contract.spec import Spec, error_body, load_spec
from t2i_contract.wire.answers import JobView, answers_for, with_server_info

CHECK = load_spec().responses
ANSWERS = answers_for(load_spec())
answer, webhook_body = ANSWERS.answer, ANSWERS.webhook
META = {"prompt": "p", "width": 256, "height": 256, "samples": 2, "seed": 3, "scheduler": None}
VIEW = JobView(id=12, state="processing", meta=META, links=["http://h/i/12-0.png", "http://h/i/12-1.png"],
               fetch_base="http://h", tip="a tip", webhook_status="pending", track_id="t", eta=1.234,
               generation_time=0.5)


@pytest.mark.parametrize("state", ["processing", "success", "failed"])
def test_every_state_answers_in_the_spec_shape(state: str) -> None:
    view = dataclasses.replace(VIEW, state=state, error=error_body("generation failed"))
    body = answer(view)
    assert CHECK.check("fetchById", 200, body) == []
    assert body["id"] == 12


def test_processing_points_at_fetch_and_the_future_links() -> None:
    body = answer(VIEW)
    assert body["fetch_result"] == "http://h/api/v6/images/fetch/12"
    assert body["future_links"] == list(VIEW.links) and body["output"] == [] and body["eta"] == 1.23


def test_success_output_comes_from_the_server_and_links_stay_urls() -> None:
    view = dataclasses.replace(VIEW, state="success", output=lambda: ["aGk=", "aGk="])
    body = answer(view)
    assert body["output"] == ["aGk=", "aGk="] and body["proxy_links"] == list(VIEW.links)


@pytest.mark.parametrize("state", ["success", "failed"])
def test_webhook_payloads_are_the_spec_webhook(state: str) -> None:
    view = dataclasses.replace(VIEW, state=state, error=error_body("boom"))
    payload = webhook_body(view)
    assert CHECK.check_webhook(payload) == []
    assert payload["track_id"] == "t"


def test_a_broken_view_is_caught_by_the_same_check() -> None:
    body = answer(dataclasses.replace(VIEW, state="success", webhook_status=""))
    assert CHECK.check("fetchById", 200, body) != []


def test_server_info_never_overwrites_a_request_field() -> None:
    merged = with_server_info(META, {"scheduler": "DDIMScheduler", "device": "cpu"})
    assert merged["scheduler"] is None and merged["scheduler_used"] == "DDIMScheduler" and merged["device"] == "cpu"


@pytest.mark.parametrize("state", ["processing", "success", "failed"])
def test_a_client_reads_back_what_a_server_built(state: str) -> None:
    view = dataclasses.replace(VIEW, state=state, error=error_body("boom"))
    reading = ANSWERS.read(answer(view))
    assert reading.branch == {"failed": "error"}.get(state, state)
    assert reading.id == 12
    if state == "processing":
        assert (reading.eta, reading.fetch_url, reading.future) == (1.23, "http://h/api/v6/images/fetch/12",
                                                                    tuple(VIEW.links))
    if state == "success":
        assert reading.images == tuple(VIEW.links)


@pytest.mark.parametrize("body", [None, [], "success", {"status": "queued", "id": 1}, {"output": ["x"]}],
                         ids=["null", "list", "string", "unknown-word", "no-status"])
def test_what_is_not_an_answer_of_the_contract_reads_as_no_branch(body: object) -> None:
    assert ANSWERS.read(body).branch is None


def test_the_words_and_the_fetch_route_come_from_the_document() -> None:
    document = copy.deepcopy(load_spec().document)
    wire = document["x-t2i-wire"]
    wire["answer"]["words"]["processing"] = "queued"
    wire["lifecycle"]["fetch"] = ["fetch", "fetchById"]
    other = answers_for(Spec(document))
    body = other.answer(VIEW)
    assert body["status"] == "queued" and body["fetch_result"] == "http://h/api/v6/images/fetch"
    assert other.read(body).branch == "processing" and ANSWERS.read(body).branch is None


def test_reload_answers_use_the_documented_words() -> None:
    assert ANSWERS.reload("processing", "loading", eta=2) == {"status": "processing", "message": "loading", "eta": 2}
    assert ANSWERS.reload("failed", "no such model")["status"] == "error"
    assert CHECK.check("modelReload", 200, ANSWERS.reload("success", "loaded")) == []
