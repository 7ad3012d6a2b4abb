"""The WSGI fast path answers exactly as the Flask routes do: same status, headers that matter, body.

Two mocks on the same settings, one with ``fast_path=False``, get the same table of
requests over real HTTP; ids, seeds and timings are the only things allowed to differ.
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable

import pytest

from tests.mock_server.conftest import MockClient

IMAGE_TOKEN = re.compile(r"[0-9a-f]{32}")

HEADERS_THAT_MATTER = ("Content-Type", "Access-Control-Allow-Origin", "Allow", "Retry-After")
VOLATILE = ("id", "generationTime")

BODY = {"key": "k1", "model_id": "f222-diffusion", "prompt": "a lighthouse", "width": 256, "height": 256, "seed": 7}

CASES: list[tuple[str, str, bytes, dict[str, str]]] = [
    ("success", "text2img", json.dumps(BODY).encode(), {"Content-Type": "application/json"}),
    ("processing", "text2img", json.dumps(BODY).encode(), {"Content-Type": "application/json", "Prefer": "eta=5"}),
    ("invalid-field", "text2img", json.dumps(BODY | {"width": 2048}).encode(), {"Content-Type": "application/json"}),
    ("not-json", "text2img", b"{nope", {"Content-Type": "application/json"}),
    ("text-plain", "text2img", json.dumps(BODY).encode(), {"Content-Type": "text/plain"}),
    ("too-big", "text2img", json.dumps(BODY | {"pad": "x" * 5000}).encode(), {"Content-Type": "application/json"}),
    ("wrong-key", "text2img", json.dumps(BODY | {"key": "nope"}).encode(), {"Content-Type": "application/json"}),
    ("forced-429", "text2img", json.dumps(BODY).encode(), {"Content-Type": "application/json", "Prefer": "code=429"}),
    ("bad-prefer", "text2img", json.dumps(BODY).encode(), {"Content-Type": "application/json", "Prefer": "code=418"}),
    ("fetch-unknown", "fetch", json.dumps({"key": "k1", "request_id": 5}).encode(),
     {"Content-Type": "application/json"}),
    ("fetch-missing-id", "fetch", json.dumps({"key": "k1"}).encode(), {"Content-Type": "application/json"}),
]


def _strip(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: _strip(v) for k, v in body.items() if k not in VOLATILE}
    if isinstance(body, list):
        return [_strip(v) for v in body]
    if isinstance(body, str):  # image names are 128 random bits on each mock
        return IMAGE_TOKEN.sub("TOKEN", body)
    return body


@pytest.fixture
def pair(make_mock: Callable[..., MockClient]) -> tuple[MockClient, MockClient]:
    settings = {"keys": ("k1",), "max_body": 4096}
    return make_mock(fast_path=True, **settings), make_mock(fast_path=False, **settings)


@pytest.mark.parametrize(("operation", "data", "headers"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_fast_and_flask_paths_answer_alike(pair: tuple[MockClient, MockClient], operation: str, data: bytes,
                                           headers: dict[str, str]) -> None:
    fast, slow = (client.post(operation, data=data, headers=headers) for client in pair)
    assert fast.status_code == slow.status_code
    for name in HEADERS_THAT_MATTER:
        assert fast.headers.get(name) == slow.headers.get(name), name
    assert _strip(fast.json()) == _strip(_rebase(slow.json(), pair[1].url, pair[0].url))


def _rebase(body: Any, old: str, new: str) -> Any:
    """The slow mock's links on the fast mock's host, so only the port differs (and image names,
    128 random bits each, are replaced on both sides by ``_strip``)."""
    return json.loads(json.dumps(body).replace(old, new))


def test_the_comparison_sees_a_difference(pair: tuple[MockClient, MockClient]) -> None:
    """Guard: the table would catch a path that answered differently (here: another status)."""
    fast = pair[0].post("text2img", data=json.dumps(BODY).encode(), headers={"Content-Type": "application/json"})
    slow = pair[1].post("text2img", data=b"{nope", headers={"Content-Type": "application/json"})
    assert fast.status_code != slow.status_code
    assert _strip(fast.json()) != _strip(slow.json())


def test_the_fast_path_really_answers(pair: tuple[MockClient, MockClient]) -> None:
    """The fast mock's Flask app never sees a text2img POST: its URL map is not consulted."""
    fast = pair[0]
    seen: list[str] = []
    app = fast.server.app
    original = app.wsgi_app.app  # the Flask WSGI callable behind the fast path

    def spy(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        seen.append(environ["PATH_INFO"])
        return original(environ, start_response)

    app.wsgi_app.app = spy
    assert fast.post("text2img", data=json.dumps(BODY).encode(),
                     headers={"Content-Type": "application/json"}).status_code == 200
    assert fast.get("/__mock/health").status_code == 200
    assert seen == ["/__mock/health"]
