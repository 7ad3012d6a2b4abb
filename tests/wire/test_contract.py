"""The x-t2i-wire hint: read and checked once, and one signal for "not implemented" on both sides."""
from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest
from werkzeug.test import EnvironBuilder

from t2i_contract.protocol import Pipeline, Service
from t2i_contract.spec import Spec, SpecError, load_spec
from t2i_contract.wire.contract import Lifecycle, StatusWords, wire_of

WIRE = wire_of(load_spec())


def test_the_v6_wire_is_read_from_the_document() -> None:
    assert (WIRE.key_in, WIRE.key_name) == ("body", "key")
    assert WIRE.answer_words == StatusWords(success="success", processing="processing", error="error")
    assert WIRE.webhook_words == StatusWords(success="success", failed="failed")
    assert WIRE.lifecycle == Lifecycle(kind="fetch", fetch=("fetchById", "fetch"), eta_field="eta",
                                       result_field="fetch_result", future_field="future_links")
    assert WIRE.lifecycle.is_async and WIRE.output.forms == ("url", "base64")


def _broken(change: Callable[[dict[str, Any]], None]) -> Spec:
    document = copy.deepcopy(load_spec().document)
    change(document["x-t2i-wire"])
    return Spec(document)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda w: w["lifecycle"].update(fetch=["poll"]), "lifecycle.fetch names ['poll']"),
        (lambda w: w["lifecycle"].update(kind="webhook"), "lifecycle.kind"),
        (lambda w: w["key"].update({"in": "cookie"}), "x-t2i-wire.key"),
        (lambda w: w["answer"]["words"].update(queued="queued"), "answer.words"),
        (lambda w: w["output"].update(forms=["file"]), "output.forms"),
        (lambda w: w.pop("output"), "x-t2i-wire.output"),
    ],
    ids=["unknown-fetch-operation", "unknown-lifecycle", "key-location", "unknown-role", "output-form",
         "no-output"],
)
def test_a_hint_naming_what_the_document_lacks_is_a_spec_error_naming_the_entry(change: Callable, named: str) -> None:
    with pytest.raises(SpecError, match=named.replace("[", r"\[").replace("]", r"\]")):
        wire_of(_broken(change))


class _GeneratesOnly(Service):
    """A server that serves nothing but the fetch forms: everything else is its default."""


def _call(pipeline: Pipeline, operation_id: str, body: dict[str, Any]) -> tuple[int, Any]:
    environ = EnvironBuilder(method="POST", path=pipeline.routes[operation_id].path, data=json.dumps(body),
                             content_type="application/json").get_environ()
    answer = pipeline.handle(operation_id, environ)
    return answer.status, answer.body


def test_what_a_server_says_for_a_missing_operation_a_client_reads_as_not_implemented() -> None:
    spec = load_spec()
    status, body = _call(Pipeline(spec, _GeneratesOnly()), "modelReload", {"key": "k", "model_id": "m"})
    assert status == 404 and body["errors"][0]["rule"] == WIRE.not_implemented.rule
    assert WIRE.not_implemented.is_shown_by(status, body, "modelReload")


@pytest.mark.parametrize(
    ("status", "body", "shown"),
    [
        (404, {"status": "error", "message": "Model not found: m", "errors": [{"rule": "exists"}]}, False),
        (404, "<html>Not Found</html>", True),
        (405, None, True),
        (400, {"status": "error", "message": "modelReload is broken"}, False),
        (404, {"status": "error", "message": "no modelReload here"}, True),
    ],
    ids=["unknown-model", "no-route-html", "method-not-allowed", "other-status", "named-in-message"],
)
def test_the_signal_tells_a_missing_operation_from_a_missing_thing(status: int, body: Any, shown: bool) -> None:
    assert WIRE.not_implemented.is_shown_by(status, body, "modelReload") is shown


def test_the_v6_error_template_gives_back_the_toolkits_own_shape() -> None:
    from t2i_contract.spec import Problem, error_body
    from t2i_contract.wire.errors import read_error, render_error

    body = error_body("width must be at most 1024, got 2048", (Problem("width", "maximum", "too wide", 2048),),
                      retry_after=3)
    assert render_error(WIRE, body) == body
    assert read_error(WIRE.error, body).fields == ("width",)


def test_another_error_template_is_filled_and_read_back() -> None:
    from t2i_contract.wire.errors import read_error, render_error

    spec = _broken(lambda w: w.update(error={
        "body": {"error": {"message": "{message}", "type": "invalid_request_error", "param": "{field}",
                           "code": "{rule}"}},
        "message-path": ["error", "message"], "field-path": ["error", "param"]}))
    wire = wire_of(spec)
    body = render_error(wire, {"status": "error", "message": "n must be at most 10, got 11",
                               "errors": [{"field": "n", "rule": "maximum", "message": "m", "value": 11}]})
    assert body == {"error": {"message": "n must be at most 10, got 11", "type": "invalid_request_error",
                              "param": "n", "code": "maximum"}}
    assert read_error(wire.error, body).message == "n must be at most 10, got 11"
    assert read_error(wire.error, body).fields == ("n",)
    assert read_error(wire.error, {"detail": "nope"}).message is None
