"""The pipeline's route table comes from the spec: an operation added to the document gets its
route, intake, validation and error answers without any routing written for it."""
from __future__ import annotations

import base64
import copy
import io
from typing import Any, Iterator

import pytest
import requests
from flask import Flask
from PIL import Image

from t2i_contract.protocol import Call, KeyRing, NotFound, Pipeline, Service, UrlPolicy, install
from t2i_contract.spec import Spec, load_spec
from tests.support import ServerThread

NEW_PATH = "/api/v6/images/model_status"


def spec_with_a_new_operation() -> Spec:
    document = copy.deepcopy(load_spec().document)
    document["paths"][NEW_PATH] = {"post": {
        "operationId": "modelStatus",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["key", "model_id"],
            "properties": {"key": {"type": "string", "minLength": 1}, "model_id": {"type": "string"}}}}}},
        "responses": {"200": {"description": "ok"}, "400": {"description": "bad"}, "401": {"description": "key"}},
    }}
    return Spec(document)


class Statuses(Service):
    def operation(self, call: Call, values: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {"status": "success", "message": f"reloaded {values['model_id']}"}


@pytest.fixture
def served() -> Iterator[tuple[str, Pipeline]]:
    spec = spec_with_a_new_operation()
    app = Flask(__name__)
    pipeline = Pipeline(spec, Statuses(), keys=KeyRing(("k",)), forced_errors=True)
    install(app, pipeline)
    with ServerThread(app) as server:
        yield server.url, pipeline


def test_routes_are_the_spec_operations(served: tuple[str, Pipeline]) -> None:
    _, pipeline = served
    assert {(r.operation_id, r.method, r.rule) for r in pipeline.routes} >= {
        ("text2img", "POST", "/api/v6/images/text2img"), ("fetchById", "POST", "/api/v6/images/fetch/<id>"),
        ("fetch", "POST", "/api/v6/images/fetch"), ("modelStatus", "POST", NEW_PATH)}
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
    assert forced.status_code == 400 and "not a documented answer of modelStatus" in forced.json()["message"]


def test_an_operation_a_server_has_not_built_is_a_404_naming_it() -> None:
    app = Flask(__name__)
    install(app, Pipeline(spec_with_a_new_operation(), Service()))
    with ServerThread(app) as server:
        response = requests.post(server.url + NEW_PATH, json={"key": "k", "model_id": "m"}, timeout=10)
    assert response.status_code == 404
    assert response.json()["errors"][0] == {"field": "", "rule": "operation", "value": "modelStatus",
                                            "message": "Not found: this server does not implement modelStatus"}


class Recorder(Service):
    """Records what reaches the service: typed requests, the loaded inputs, reload calls."""

    def __init__(self) -> None:
        self.submitted: list[tuple[Any, dict[str, Any]]] = []

    def submit(self, call: Call, request: Any) -> Any:
        self.submitted.append((request, dict(call.inputs)))
        raise NotFound("stop here", field="model_id", value=request.model_id)

    def reload_model(self, call: Call, request: Any) -> dict[str, Any]:
        return {"status": "success", "message": f"{type(request).__name__} {request.model_id}"}


def _png(size: tuple[int, int], colour: int = 128) -> str:
    out = io.BytesIO()
    Image.new("RGB", size, (colour, colour, colour)).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode("ascii")


@pytest.fixture
def recorded() -> Iterator[tuple[str, Recorder]]:
    app = Flask(__name__)
    service = Recorder()
    install(app, Pipeline(load_spec(), service, url_policy=UrlPolicy(allow_private=False)))
    with ServerThread(app) as server:
        yield server.url, service


def test_model_reload_reaches_the_service_hook_typed(recorded: tuple[str, Recorder]) -> None:
    url, _ = recorded
    response = requests.post(url + "/api/v6/images/model_reload", json={"key": "k", "model_id": "m"}, timeout=10)
    assert response.json() == {"status": "success", "message": "ModelReloadRequest m"}


def test_a_server_without_reload_answers_404_naming_model_reload() -> None:
    app = Flask(__name__)
    install(app, Pipeline(load_spec(), Service()))
    with ServerThread(app) as server:
        response = requests.post(server.url + "/api/v6/images/model_reload", json={"key": "k", "model_id": "m"},
                                 timeout=10)
    assert (response.status_code, response.json()["errors"][0]["value"]) == (404, "modelReload")


def test_inpaint_inputs_are_loaded_once_and_the_request_gets_their_size(recorded: tuple[str, Recorder]) -> None:
    url, service = recorded
    body = {"key": "k", "model_id": "m", "init_image": _png((96, 72)), "mask_image": _png((96, 72), 255),
            "width": "512", "height": "512", "steps": "5"}
    assert requests.post(url + "/api/v6/images/inpaint", json=body, timeout=10).status_code == 404
    (request, inputs), = service.submitted
    assert type(request).__name__ == "InpaintRequest"
    assert (request.width, request.height, request.num_inference_steps) == (96, 72, 5)
    assert sorted(inputs) == ["init_image", "mask_image"] and inputs["init_image"].size == (96, 72)


@pytest.mark.parametrize(("operation", "fields", "field"), [
    ("img2img", {"init_image": "http://127.0.0.1:9/a.png"}, "init_image"),
    ("img2img", {"init_image": base64.b64encode(b"not an image at all").decode()}, "init_image"),
    ("img2img", {"init_image": _png((40, 80))}, "init_image"),
    ("inpaint", {"init_image": _png((96, 72)), "mask_image": _png((72, 96))}, "mask_image"),
    ("inpaint", {"init_image": _png((96, 72)), "mask_image": "https://169.254.169.254/m.png"}, "mask_image"),
], ids=["refused-private-url", "not-an-image", "init-too-small", "mask-other-size", "metadata-address"])
def test_a_bad_input_is_a_400_naming_its_field_and_nothing_reaches_the_service(
        recorded: tuple[str, Recorder], operation: str, fields: dict[str, str], field: str) -> None:
    url, service = recorded
    response = requests.post(f"{url}/api/v6/images/{operation}", json={"key": "k", "model_id": "m", **fields},
                             timeout=10)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == field
    assert service.submitted == []
