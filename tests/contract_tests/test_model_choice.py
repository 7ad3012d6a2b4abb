"""Without --model-id, the suite reads the server's model list once, up front, and says what it chose
(issue 21, item 3): a listed model, the spec's example when listed, one line when the list is empty, and
the spec's example as before when the server lists nothing (the mock)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterable

import pytest

from t2i_contract.contract_tests.models import NoModelListed, choose_model
from t2i_contract.spec import load_spec
from t2i_contract.spec.packs import load_contract
from t2i_contract.wire.models import model_ids
from tests.support import ServerThread

ROOT = Path(__file__).resolve().parents[2]
SPEC = load_spec()


def _lister(status: int, body: Any, seen: list[str] | None = None) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if seen is not None:
            seen.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']} {environ.get('HTTP_X_TEAM', '')}")
        start_response(f"{status} X", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    return app


@pytest.mark.parametrize(("body", "ids"), [
    ({"models": ["a", "b"], "loras": ["l"]}, ["a", "b"]),
    ({"data": [{"id": "dall-e-2", "object": "model"}]}, ["dall-e-2"]),
    ([{"title": "v1-5 [abc]", "model_name": "v1-5"}, "b", "b"], ["v1-5", "b"]),
    ({"models": []}, []),
    ({"status": "error"}, None),
    ("text", None),
], ids=["toolkit", "openai", "objects-and-duplicates", "empty", "not-a-list", "not-json-object"])
def test_a_listing_is_read_in_every_form_it_takes(body: Any, ids: list[str] | None) -> None:
    assert model_ids(body) == ids


def test_the_first_listed_model_is_chosen_and_said_so() -> None:
    seen: list[str] = []
    with ServerThread(_lister(200, {"models": ["tiny-sd", "tiny-sdxl"]}, seen)) as server:
        choice = choose_model(SPEC, server.url, headers={"X-Team": "blue"})
    assert choice.model_id == "tiny-sd"
    assert choice.describe() == ("tiny-sd (the first of 2 model(s) the server lists at GET /models; --model-id "
                                 "picks another)")
    assert seen == ["GET /models blue"]  # one request, with the run's headers


def test_the_specs_example_is_kept_when_the_server_lists_it() -> None:
    with ServerThread(_lister(200, {"models": ["a", "f222-diffusion"]})) as server:
        choice = choose_model(SPEC, server.url)
    assert choice.model_id == "f222-diffusion" and "which the server lists" in choice.how


def test_a_server_listing_no_model_stops_the_run_saying_to_pass_model_id() -> None:
    with ServerThread(_lister(200, {"models": []})) as server:
        with pytest.raises(NoModelListed) as refused:
            choose_model(SPEC, server.url)
    assert str(refused.value) == "the server lists no model at GET /models: pass --model-id with a model it has"


@pytest.mark.parametrize(("status", "body"), [(404, {"status": "error"}), (200, {"ok": True})], ids=["404", "other"])
def test_a_server_that_lists_nothing_keeps_the_specs_example(status: int, body: Any) -> None:
    with ServerThread(_lister(status, body)) as server:
        choice = choose_model(SPEC, server.url)
    assert choice.model_id == "f222-diffusion"
    assert choice.how.startswith(f"the spec's example; the server lists no models at GET /models ({status})")


def test_model_id_given_is_used_without_asking() -> None:
    seen: list[str] = []
    with ServerThread(_lister(200, {"models": ["a"]}, seen)) as server:
        choice = choose_model(SPEC, server.url, given="mine")
    assert choice.describe() == "mine (--model-id)" and seen == []


def test_a_pack_without_a_model_field_asks_nothing() -> None:
    seen: list[str] = []
    with ServerThread(_lister(200, [{"model_name": "x"}], seen)) as server:
        choice = choose_model(load_contract("a1111"), server.url)
    assert choice.model_id is None and choice.describe() == "" and seen == []


def test_t2i_test_names_the_empty_list_in_one_line_and_exits_2() -> None:
    with ServerThread(_lister(200, {"models": []})) as server:
        result = subprocess.run([sys.executable, "-c", "from t2i_contract.spec.cli import run; run()", "test",
                                 "--base-url", server.url, "--no-progress"],
                                cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: the server lists no model at GET /models: pass --model-id with a model it has"]


def test_a_mock_with_models_lists_them_and_one_without_lists_none() -> None:
    from t2i_contract.mock_server import MockConfig

    from .conftest import running_mock

    with running_mock(MockConfig(models=("m1", "m2"))) as listing, running_mock(MockConfig()) as any_id:
        listed = choose_model(SPEC, listing)
        unlisted = choose_model(SPEC, any_id)
    assert listed.model_id == "m1" and "the first of 2 model(s)" in listed.how
    assert unlisted.model_id == "f222-diffusion" and "lists no models at GET /models (404)" in unlisted.how
