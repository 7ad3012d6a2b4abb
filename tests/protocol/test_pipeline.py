"""The pipeline's route table comes from the spec: an operation added to the document gets its
route, intake, validation and error answers without any routing written for it."""
from __future__ import annotations

import copy
from typing import Any, Iterator

import pytest
import requests
from flask import Flask

from t2i_contract.protocol import Call, KeyRing, Pipeline, Service, install
from t2i_contract.spec import Spec, load_spec
from tests.support import ServerThread

NEW_PATH = "/api/v6/images/model_reload"


def spec_with_a_new_operation() -> Spec:
    document = copy.deepcopy(load_spec().document)
    document["paths"][NEW_PATH] = {"post": {
        "operationId": "modelReload",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["key", "model_id"],
            "properties": {"key": {"type": "string", "minLength": 1}, "model_id": {"type": "string"}}}}}},
        "responses": {"200": {"description": "ok"}, "400": {"description": "bad"}, "401": {"description": "key"}},
    }}
    return Spec(document)


class Reloads(Service):
    def operation(self, call: Call, values: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {"status": "success", "message": f"reloaded {values['model_id']}"}


@pytest.fixture
def served() -> Iterator[tuple[str, Pipeline]]:
    spec = spec_with_a_new_operation()
    app = Flask(__name__)
    pipeline = Pipeline(spec, Reloads(), keys=KeyRing(("k",)), forced_errors=True)
    install(app, pipeline)
    with ServerThread(app) as server:
        yield server.url, pipeline


def test_routes_are_the_spec_operations(served: tuple[str, Pipeline]) -> None:
    _, pipeline = served
    assert {(r.operation_id, r.method, r.rule) for r in pipeline.routes} >= {
        ("text2img", "POST", "/api/v6/images/text2img"), ("fetchById", "POST", "/api/v6/images/fetch/<id>"),
        ("fetch", "POST", "/api/v6/images/fetch"), ("modelReload", "POST", NEW_PATH)}
    assert pipeline.base_path == "/api/v6/images"


def test_an_added_operation_is_routed_validated_and_answered(served: tuple[str, Pipeline]) -> None:
    url, _ = served
    ok = requests.post(url + NEW_PATH, json={"key": "k", "model_id": "m1"}, timeout=10)
    assert (ok.status_code, ok.json()["message"]) == (200, "reloaded m1")
    missing = requests.post(url + NEW_PATH, json={"key": "k"}, timeout=10)
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "model_id"
    assert requests.post(url + NEW_PATH, json={"key": "x", "model_id": "m"}, timeout=10).status_code == 401
    plain = requests.post(url + NEW_PATH, data="{}", headers={"Content-Type": "text/plain"}, timeout=10)
    assert plain.status_code == 400 and plain.json()["errors"][0]["field"] == "Content-Type"
    wrong = requests.get(url + NEW_PATH, timeout=10)
    assert wrong.status_code == 405 and "POST" in wrong.headers["Allow"]
    forced = requests.post(url + NEW_PATH, json={"key": "k", "model_id": "m"}, headers={"Prefer": "code=404"},
                           timeout=10)
    assert forced.status_code == 400 and "not a documented answer of modelReload" in forced.json()["message"]


def test_an_operation_a_server_has_not_built_is_a_404_naming_it() -> None:
    app = Flask(__name__)
    install(app, Pipeline(spec_with_a_new_operation(), Service()))
    with ServerThread(app) as server:
        response = requests.post(server.url + NEW_PATH, json={"key": "k", "model_id": "m"}, timeout=10)
    assert response.status_code == 404
    assert response.json()["errors"][0] == {"field": "", "rule": "operation", "value": "modelReload",
                                            "message": "Not found: this server does not implement modelReload"}
