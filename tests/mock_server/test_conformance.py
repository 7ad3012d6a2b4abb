"""Every answer on every branch validates against spec/: a generated corpus over real HTTP.

Hypothesis builds text2img and fetch calls that are valid, nearly valid (one field
swapped for an arbitrary JSON value), or not JSON at all, with and without
``Prefer`` headers, and each answer is checked with ``load_spec().responses.check``.
The last test proves the check itself fails on a broken answer.
"""
from __future__ import annotations

import json
from typing import Any

from typing import Iterator

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from t2i_contract.mock_server import EXTENSION, MockConfig, create_app
from t2i_contract.spec import load_spec
from tests.mock_server.conftest import MockClient
from tests.support import ServerThread

SCHEDULERS = load_spec().schema("Scheduler")["enum"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**10) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)
dimension = st.integers(32, 128).map(lambda n: n * 8)
fields = {
    "model_id": st.sampled_from(["f222-diffusion", "sd-1.5", "m"]),
    "prompt": st.text(min_size=1, max_size=40),
    "negative_prompt": st.text(max_size=20),
    "width": dimension | dimension.map(str),
    "height": dimension,
    "samples": st.integers(1, 4) | st.integers(1, 4).map(str),
    "num_inference_steps": st.integers(1, 60),
    "seed": st.none() | st.integers(0, 2**32 - 1),
    "guidance_scale": st.floats(1, 20),
    "safety_checker": st.sampled_from([True, False, "yes", "no"]),
    "upscale": st.sampled_from([False, "no", True]),
    "base64": st.sampled_from([False, False, True]),
    "lora_model": st.sampled_from([None, "", "a", "a,b"]),
    "lora_strength": st.sampled_from([None, 0.5, "0.45,0.55"]),
    "scheduler": st.sampled_from(SCHEDULERS),
    "track_id": st.none() | st.text(max_size=10),
}
valid_bodies = st.fixed_dictionaries(
    {"key": st.just("k"), "model_id": fields["model_id"], "prompt": fields["prompt"]},
    optional={k: v for k, v in fields.items() if k not in ("model_id", "prompt")},
)


@st.composite
def text2img_bodies(draw: st.DrawFn) -> Any:
    body = draw(valid_bodies)
    kind = draw(st.sampled_from(["valid", "valid", "field", "drop", "any"]))
    if kind == "field":
        body[draw(st.sampled_from(sorted(fields) + ["key"]))] = draw(json_values)
    elif kind == "drop":
        body.pop(draw(st.sampled_from(["key", "model_id", "prompt"])))
    elif kind == "any":
        return draw(json_values)
    return body


prefer_headers = st.sampled_from([
    None, "status=processing", "status=processing, eta=0", "eta=0.01", "status=success", "code=401",
    "code=402", "code=404", "code=429", "code=500", "code=503", "code=999", "respond-async", "eta=x",
])
raw_bodies = st.binary(max_size=30) | st.text(max_size=30).map(lambda s: s.encode("utf-8"))


@pytest.fixture(scope="module")
def strict_mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockClient]:
    """Auth on, a short queue, half the answers processing: the branches the default mock never takes."""
    config = MockConfig(keys=("k",), max_queued=2, processing_ratio=0.5, eta=0.05,
                        db_path=tmp_path_factory.mktemp("strict") / "mock.sqlite3")
    app = create_app(config)
    with ServerThread(app) as server:
        client = MockClient(server)
        yield client
        client.http.close()
    app.extensions[EXTENSION].close()


@pytest.fixture(params=["default", "strict"])
def any_mock(request: pytest.FixtureRequest) -> MockClient:
    return request.getfixturevalue("mock" if request.param == "default" else "strict_mock")


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=text2img_bodies(), prefer=prefer_headers)
def test_text2img_answers_conform(any_mock: MockClient, body: Any, prefer: str | None) -> None:
    mock = any_mock
    response = mock.text2img(body, headers={"Prefer": prefer} if prefer else None)
    answer = response.json()
    assert load_spec().responses.check("text2img", response.status_code, answer) == []
    if response.status_code == 200 and answer["status"] == "success":
        expected = body.get("samples", 1) if isinstance(body, dict) else 1
        assert len(answer["output"]) == int(expected)
    event(f"{response.status_code} {answer['status']}")


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(raw=raw_bodies, content_type=st.sampled_from(["application/json", "text/plain", None]),
       path=st.sampled_from(["text2img", "fetch", "fetch/1", "fetch/x"]))
def test_arbitrary_bytes_get_a_conforming_error(mock: MockClient, raw: bytes, content_type: str | None,
                                               path: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = mock.post(path, data=raw, headers=headers)
    operation = {"text2img": "text2img", "fetch": "fetch"}.get(path, "fetchById")
    assert response.status_code < 500
    assert load_spec().responses.check(operation, response.status_code, response.json()) == []


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(key=json_values | st.just("k"), request_id=json_values | st.integers(0, 2**80),
       by_path=st.booleans(), prefer=prefer_headers, make_job=st.booleans())
def test_fetch_answers_conform(any_mock: MockClient, key: Any, request_id: Any, by_path: bool,
                               prefer: str | None, make_job: bool) -> None:
    mock = any_mock
    if make_job:
        started = mock.text2img({"key": "k", "model_id": "m", "prompt": "p", "width": 256, "height": 256},
                                headers={"Prefer": "eta=0.05"}).json()
        request_id = started.get("id", request_id)  # a full queue (429) starts no job
    headers = {"Prefer": prefer} if prefer else None
    if by_path:
        segment = json.dumps(request_id) if not isinstance(request_id, str) else request_id
        segment = segment.replace("/", "%2F").replace("?", "%3F").replace("#", "%23") or "0"
        response = mock.post(f"fetch/{segment}", {"key": key}, headers=headers)
        operation = "fetchById"
    else:
        response = mock.post("fetch", {"key": key, "request_id": request_id}, headers=headers)
        operation = "fetch"
    assert load_spec().responses.check(operation, response.status_code, response.json()) == []


def test_the_conformance_check_catches_a_broken_answer(mock: MockClient) -> None:
    answer = mock.text2img({"key": "k", "model_id": "m", "prompt": "p"}).json()
    check = load_spec().responses.check
    assert check("text2img", 200, answer) == []
    assert check("text2img", 200, answer | {"id": str(answer["id"])}) != []
    assert check("text2img", 200, answer | {"output": answer["output"] * 5}) != []
    assert check("text2img", 418, {"status": "error", "message": "teapot"}) != []
