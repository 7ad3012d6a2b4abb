"""The payload builders: every body they make is one the spec accepts, from one JobView."""
from __future__ import annotations

import dataclasses

import pytest

from t2i_contract.protocol import JobView, answer, webhook_body
from t2i_contract.protocol.payloads import with_server_info
from t2i_contract.spec import error_body, load_spec

CHECK = load_spec().responses
BASE = "/api/v6/images"
META = {"prompt": "p", "width": 256, "height": 256, "samples": 2, "seed": 3, "scheduler": None}
VIEW = JobView(id=12, state="processing", meta=META, links=["http://h/i/12-0.png", "http://h/i/12-1.png"],
               fetch_base="http://h", tip="a tip", webhook_status="pending", track_id="t", eta=1.234,
               generation_time=0.5)


@pytest.mark.parametrize("state", ["processing", "success", "failed"])
def test_every_state_answers_in_the_spec_shape(state: str) -> None:
    view = dataclasses.replace(VIEW, state=state, error=error_body("generation failed"))
    body = answer(view, BASE)
    assert CHECK.check("fetchById", 200, body) == []
    assert body["id"] == 12


def test_processing_points_at_fetch_and_the_future_links() -> None:
    body = answer(VIEW, BASE)
    assert body["fetch_result"] == "http://h/api/v6/images/fetch/12"
    assert body["future_links"] == list(VIEW.links) and body["output"] == [] and body["eta"] == 1.23


def test_success_output_comes_from_the_server_and_links_stay_urls() -> None:
    view = dataclasses.replace(VIEW, state="success", output=lambda: ["aGk=", "aGk="])
    body = answer(view, BASE)
    assert body["output"] == ["aGk=", "aGk="] and body["proxy_links"] == list(VIEW.links)


@pytest.mark.parametrize("state", ["success", "failed"])
def test_webhook_payloads_are_the_spec_webhook(state: str) -> None:
    view = dataclasses.replace(VIEW, state=state, error=error_body("boom"))
    payload = webhook_body(view)
    assert CHECK.check_webhook(payload) == []
    assert payload["track_id"] == "t"


def test_a_broken_view_is_caught_by_the_same_check() -> None:
    body = answer(dataclasses.replace(VIEW, state="success", webhook_status=""), BASE)
    assert CHECK.check("fetchById", 200, body) != []


def test_server_info_never_overwrites_a_request_field() -> None:
    merged = with_server_info(META, {"scheduler": "DDIMScheduler", "device": "cpu"})
    assert merged["scheduler"] is None and merged["scheduler_used"] == "DDIMScheduler" and merged["device"] == "cpu"
