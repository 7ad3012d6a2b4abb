"""The fuzz run's safety and its verdict are themselves checked: the rewrite, the guard, the judge."""
from __future__ import annotations

import socket
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from t2i_contract.spec import load_spec

from .conftest import KEY
from .judge import judge
from .loopback import URL_FIELDS, LoopbackGuard, Receiver, rewrite

OUTSIDE = ["http://example.com/hook", "HTTP://10.0.0.1:6379/", "https://169.254.169.254/latest/meta-data",
           "http://0x7f000001/", "http://[fd00::1]/x", "http://2130706433:8080/admin", "https://8.8.8.8/"]


@pytest.mark.parametrize("url", OUTSIDE)
@pytest.mark.parametrize("field", URL_FIELDS)
def test_every_url_a_server_would_contact_is_rewritten_to_the_receiver(receiver: Receiver, field: str,
                                                                       url: str) -> None:
    body = rewrite({"key": "k", "prompt": "p", field: url}, receiver)
    assert body[field] in (receiver.hook_url, receiver.image_url)
    assert body[field].startswith("http://127.0.0.1:")
    assert (body[field] == receiver.hook_url) == (field == "webhook")
    assert body["prompt"] == "p"


@pytest.mark.parametrize("value", [None, 5, "", "not a url", "ftp://example.com/x", "http://",
                                   "data:image/png;base64,iVBORw0KGgo=", ["http://example.com"]])
def test_values_no_server_would_contact_stay_as_fuzzed(receiver: Receiver, value: Any) -> None:
    assert rewrite({"webhook": value, "ip_adapter_image": value}, receiver) == {"webhook": value,
                                                                                 "ip_adapter_image": value}


def test_bodies_that_are_not_objects_pass_unchanged(receiver: Receiver) -> None:
    assert rewrite(["http://example.com"], receiver) == ["http://example.com"]


def test_the_guard_refuses_a_connection_off_loopback_before_it_is_made(guard: LoopbackGuard) -> None:
    before = len(guard.refused)
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError, match="loopback only"):
        sock.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed, and never tried here
    assert guard.refused[before:] == [("192.0.2.1", 9)]
    del guard.refused[before:]


def test_the_guard_lets_loopback_through(guard: LoopbackGuard, receiver: Receiver) -> None:
    assert requests.get(receiver.image_url, timeout=30).content == receiver.png


def test_the_receiver_serves_a_real_png(receiver: Receiver) -> None:
    assert receiver.png[:8] == b"\x89PNG\r\n\x1a\n"


class _Answer:
    def __init__(self, status: int, body: Any) -> None:
        self.status_code = status
        self._body = body
        self.text = str(body)

    def json(self) -> Any:
        return self._body


def _passes(response: Any, checks: Any) -> None:
    """A stand-in for schemathesis' response checks, so these cases judge acceptance alone."""


def _case(body: Any) -> Any:
    return SimpleNamespace(body=body)


VALID = {"key": KEY, "model_id": "m", "prompt": "a lighthouse"}
INVALID = {"key": KEY, "model_id": "m", "prompt": "a lighthouse", "width": 100}


@pytest.mark.parametrize(("status", "body", "problem"), [
    (200, INVALID, "accepted-invalid"),
    (400, VALID, "refused-valid"),
    (200, {**VALID, "lora_model": "a,b", "lora_strength": "0.5,0.5,0.5"}, "accepted-invalid"),
], ids=["accepted-invalid", "refused-valid", "two-field-lora-rule-accepted"])
def test_the_judge_finds_answers_that_disagree_with_the_spec(status: int, body: dict[str, Any], problem: str) -> None:
    answer = _Answer(status, {"status": "error", "errors": [{"field": "prompt"}]})
    assert [p.what for p in judge("mock", "text2img", _case(body), answer, validate=_passes)] == [problem]


def test_the_judge_accepts_a_refusal_of_an_invalid_body_and_success_of_a_valid_one() -> None:
    assert judge("mock", "text2img", _case(INVALID), _Answer(400, {}), validate=_passes) == []
    assert judge("mock", "text2img", _case(VALID), _Answer(200, {}), validate=_passes) == []


def test_the_judge_excuses_only_documented_disagreements() -> None:
    refused = _Answer(400, {"status": "error", "errors": [{"field": "scheduler"}]})
    assert judge("backend", "text2img", _case(VALID), refused, validate=_passes) == []
    assert [p.what for p in judge("mock", "text2img", _case(VALID), refused, validate=_passes)] == ["refused-valid"]


def test_the_judge_reports_a_server_error_and_a_nonconforming_answer(fuzz_mock: str) -> None:
    """Through schemathesis' real checks: a 500 and an answer the spec does not document both fail."""
    import schemathesis
    from schemathesis.core.transport import Response

    spec = load_spec()
    operation = schemathesis.openapi.from_dict(spec.document)[spec.operation("text2img")[0]]["POST"]
    case = operation.Case(body=VALID)
    real = requests.post(fuzz_mock + spec.operation("text2img")[0], json=VALID, timeout=60,
                         headers={"Prefer": "code=500"})
    assert real.status_code == 500
    problems = judge("mock", "text2img", case, Response.from_requests(real, verify=True))
    assert any("Server error" in p.what for p in problems), problems
    real_ok = requests.post(fuzz_mock + spec.operation("text2img")[0], json=VALID, timeout=60)
    assert real_ok.status_code == 200
    broken = Response.from_requests(real_ok, verify=True)
    broken.content = b'{"status": "success", "output": 7}'
    assert any("schema" in p.what.lower() for p in judge("mock", "text2img", case, broken)), "schema check never failed"


@pytest.mark.parametrize("server", ["fuzz_mock", "fuzz_backend", "fuzz_backend_held"])
@pytest.mark.parametrize("url", ["http://10.0.0.1:6379/", "http://169.254.169.254/latest", "http://localhost:9/x",
                                 "http://[::1]:9/x"])
def test_the_fuzzed_servers_refuse_every_internal_address_but_127_0_0_1(request: pytest.FixtureRequest,
                                                                       server: str, url: str) -> None:
    """The rewrite's safety net: a URL it missed is still refused unless it is the receiver's loopback."""
    base: str = request.getfixturevalue(server)
    body = {"key": KEY, "model_id": "tiny-sd", "prompt": "p", "width": 256, "height": 256, "num_inference_steps": 1,
            "webhook": url}
    answer = requests.post(base + load_spec().operation("text2img")[0], json=body, timeout=120)
    assert answer.status_code == 400, answer.text
    assert [error["field"] for error in answer.json()["errors"]] == ["webhook"]
