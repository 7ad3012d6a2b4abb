"""The behaviour table: one row per thing a client can see, run against both servers.

Each :class:`Case` makes its request(s) against a :class:`~tests.servers.targets.Target`
(``run``), checks what that one server answered (``check``), and names what both servers must
answer identically (``alike``). Ids starting ``why-`` are the inconsistencies listed under "Why"
in issue 9; each must hold on both servers. Where the issue leaves a choice (413 or 400 for an
over-size body, 415 or 400 for a wrong Content-Type, the ``webhook_status`` words), a case
accepts either, demands the spec's shape, and ``alike`` demands that the two servers chose the
same. ``servers="queue"`` runs a case on servers that allow one queued job and never run it.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any, Callable

from PIL import Image

from t2i_contract.protocol import DEFAULT_MAX_BODY
from t2i_contract.spec import load_spec

from .checks import Answer, Check, answer_of, error, error_alike, generation, webhook_status_form
from .runs import (both_fetch_forms, call, chunks, deliveries, padded, processing_then_success, queue_full,
                   unknown_path, with_images, without_webhook)
from .targets import KEY, Target

__all__ = ["CASES", "Case"]

body = Target.body
ABSENT = "<absent>"
MiB = 1024 * 1024
UNKNOWN_ID = 987654321


@dataclass(frozen=True)
class Case:
    """One row: ``run`` asks a server, ``check`` judges its answer, ``alike`` is what all servers share."""

    id: str
    run: Callable[[Target], Answer]
    check: Check
    alike: Callable[[Answer], Any]
    servers: str = "main"


# -- checks of the multi-step cases (their requests are in runs.py) ----------------------------
def check_without_webhook(answer: Answer) -> None:
    generation("text2img")(answer)
    fetched = answer.extra["fetched"]
    generation("fetchById")(fetched)
    assert "webhook_status" in answer.body and "webhook_status" in fetched.body, \
        f"webhook_status is missing: {answer} / {fetched}"
    assert answer.body["webhook_status"] == fetched.body["webhook_status"], \
        f"text2img and fetch disagree on webhook_status: {answer} / {fetched}"
    webhook_status_form("none", answer.body["webhook_status"])


def check_deliveries(final_state: str, attempts: int | None) -> Check:
    """Every delivery was the spec's payload; between attempts the server said ``pending``, then
    ``retrying after attempt N``; it ended in ``final_state`` after ``attempts`` (or all M) attempts."""

    def check(answer: Answer) -> None:
        generation("text2img")(answer)
        final = answer.extra["final"]
        generation("fetchById")(final)
        ending = webhook_status_form(final_state, final.body["webhook_status"])
        made = attempts if attempts is not None else int(ending["M"])
        if "N" in ending:
            assert int(ending["N"]) == made, f"delivery took attempt {made}, the status says {ending['N']}"
        payloads = answer.extra["payloads"]
        assert len(payloads) == made, f"expected {made} deliveries, got {len(payloads)}: {payloads}"
        for payload in payloads:
            problems = load_spec().responses.check_webhook(payload)
            assert not problems, f"webhook payload outside the spec: {problems} in {payload}"
            assert payload["id"] == answer.body["id"] and payload["track_id"] == "hooked", payload
        for attempt, seen in enumerate(answer.extra["observed"], start=1):
            assert isinstance(seen, Answer), f"fetch during delivery {attempt} failed: {seen!r}"
            generation("fetchById")(seen)
            status = seen.body["webhook_status"]
            if attempt == 1:
                webhook_status_form("pending", status)
            else:
                form = webhook_status_form("retrying", status)
                assert int(form["N"]) == attempt - 1, f"during attempt {attempt} the status was {status!r}"

    return check


def delivery_alike(answer: Answer) -> Any:
    """What a client sees of a delivery: the POSTs' fields, every status on the way, the final one."""
    observed = [seen.body.get("webhook_status") if isinstance(seen, Answer) else repr(seen)
                for seen in answer.extra["observed"]]
    fields = [sorted(payload) if isinstance(payload, dict) else payload for payload in answer.extra["payloads"]]
    return fields, observed, answer.extra["final"].body.get("webhook_status")


def image_sizes(answer: Answer) -> list[tuple[str, tuple[int, int] | None]]:
    """(media type, PNG size or None when the bytes are not a PNG) of each image."""
    sizes = []
    for media, raw in answer.extra["images"]:
        size = Image.open(io.BytesIO(raw)).size if raw[:8] == b"\x89PNG\r\n\x1a\n" else None
        sizes.append((media.partition(";")[0], size))
    return sizes


def check_images(fields: dict[str, Any]) -> Check:
    def check(answer: Answer) -> None:
        generation("text2img")(answer)
        request = body(**fields)
        size = load_spec().output_size(request["width"], request["height"], bool(request.get("upscale")))
        media = "base64" if request.get("base64") else "image/png"
        expected = [(media, size)] * int(request.get("samples", 1))
        assert image_sizes(answer) == expected, f"images (type, PNG size) {image_sizes(answer)}, expected {expected}"

    return check


def images_case(name: str, **fields: Any) -> Case:
    return Case(name, with_images(fields), check_images(fields), lambda a: (len(a.body["output"]), image_sizes(a)))


def check_processing_then_success(answer: Answer) -> None:
    generation("text2img", "processing")(answer)
    assert "final" in answer.extra, f"a processing answer must carry a fetch_result to poll: {answer}"
    final = answer.extra["final"]
    generation("fetchById")(final)
    assert final.body["id"] == answer.body["id"], f"fetch_result answered another job: {final}"
    assert answer.body["fetch_result"].startswith(answer.extra["server"] + "/"), \
        f"fetch_result is not on the server that answered ({answer.extra['server']}): {answer}"
    assert final.body["output"] == answer.body.get("future_links"), \
        f"future_links {answer.body.get('future_links')} are not the images' URLs {final.body['output']}"


def check_both_fetch_forms(answer: Answer) -> None:
    generation("text2img")(answer)
    by_id, by_body = answer.extra["by_id"], answer.extra["by_body"]
    generation("fetchById")(by_id)
    generation("fetch")(by_body)
    assert by_id.body == by_body.body, f"the two fetch forms answer differently: {by_id} / {by_body}"
    assert by_id.body["id"] == answer.body["id"] and by_id.body["output"] == answer.body["output"], \
        f"fetch does not return what text2img did: {by_id} / {answer}"


def check_queue_full(answer: Answer) -> None:
    generation("text2img", "processing")(answer.extra["held"])
    error(429, operation="text2img")(answer)
    assert isinstance(answer.body.get("retry_after"), int), f"a 429 says when to retry (retry_after): {answer}"


META_REQUEST = body(negative_prompt="blurry, low contrast", guidance_scale=6.5, seed=4321, samples=1,
                    track_id="meta-case", safety_checker=False, base64=False)


def request_fields() -> list[str]:
    """The text2img request's fields as the spec lists them, the key excepted."""
    return [field.name for field in load_spec().request_fields("text2img") if field.name != "key"]


def check_meta_echoes_request(answer: Answer) -> None:
    generation("text2img")(answer)
    meta = answer.body.get("meta")
    assert isinstance(meta, dict), f"no meta: {answer}"
    assert "key" not in meta and KEY not in json.dumps(meta), f"meta leaks the API key: {meta}"
    wrong = {name: (value, meta.get(name, ABSENT)) for name, value in META_REQUEST.items()
             if name != "key" and meta.get(name, ABSENT) != value}
    assert not wrong, f"meta does not echo the request (sent, meta): {wrong}"


# -- what every server must answer alike ---------------------------------------------------------
def meta_of_request_fields(answer: Answer) -> Any:
    meta = answer.body.get("meta") or {}
    return {name: meta.get(name, ABSENT) for name in request_fields()}


def meta_scheduler(answer: Answer) -> Any:
    return (answer.body.get("meta") or {}).get("scheduler", ABSENT)


def status_of(answer: Answer) -> Any:
    return answer.status, answer.body.get("status")


def processing_alike(answer: Answer) -> Any:
    """The processing answer's status and fields, then the final answer's status."""
    final = answer.extra.get("final")
    return status_of(answer), sorted(answer.body), status_of(final) if final is not None else None


# -- the table -------------------------------------------------------------------------------------
def either(*checks: Check) -> Check:
    """Passes when one of ``checks`` does: a verdict the two servers must share but the issue leaves open."""

    def check(answer: Answer) -> None:
        failures = []
        for one in checks:
            try:
                one(answer)
                return
            except AssertionError as exc:
                failures.append(str(exc))
        raise AssertionError(" / ".join(failures))

    return check


JSON = {"Content-Type": "application/json"}
CASES: list[Case] = [
    # -- 400: the body breaks the spec ------------------------------------------------------------
    Case("400-invalid-field-width", call("POST", "text2img", json_body=body(width=2048)),
         error(400, operation="text2img", field="width", value=2048), error_alike),
    Case("400-unknown-scheduler", call("POST", "text2img", json_body=body(scheduler="NoSuchScheduler")),
         error(400, operation="text2img", field="scheduler", value="NoSuchScheduler"), error_alike),
    Case("400-non-json-body", call("POST", "text2img", data=b"{not json", headers=JSON),
         error(400, operation="text2img"), error_alike),
    Case("400-json-array-body", call("POST", "text2img", data=b"[1, 2]", headers=JSON),
         error(400, operation="text2img"), error_alike),
    Case("400-fetch-id-not-an-integer", call("POST", "fetchById", params={"id": "abc"}, json_body={"key": KEY}),
         error(400, operation="fetchById", field="id", value="abc"), error_alike),
    Case("400-fetch-without-request-id", call("POST", "fetch", json_body={"key": KEY}),
         error(400, operation="fetch", field="request_id"), error_alike),
    # -- Content-Type and body size -----------------------------------------------------------------
    Case("why-content-type-text-plain-refused",
         call("POST", "text2img", data=json.dumps(body()), headers={"Content-Type": "text/plain"}),
         error((400, 415), operation="text2img"), error_alike),
    Case("why-content-type-form-urlencoded-refused",
         call("POST", "text2img", data="key=test-key&model_id=tiny-sd&prompt=x",
              headers={"Content-Type": "application/x-www-form-urlencoded"}),
         error((400, 415), operation="text2img"), error_alike),
    Case("why-content-type-text-plain-refused-on-fetch",
         call("POST", "fetchById", params={"id": UNKNOWN_ID}, data=json.dumps({"key": KEY}),
              headers={"Content-Type": "text/plain"}),
         error((400, 415), operation="fetchById"), error_alike),
    Case("content-type-json-with-charset-accepted",
         call("POST", "text2img", data=json.dumps(body()), headers={"Content-Type": "application/json; charset=utf-8"}),
         generation("text2img"), status_of),
    Case("why-body-50MiB-refused", call("POST", "text2img", data=lambda: padded(50 * MiB), headers=JSON),
         error((400, 413), operation="text2img"), error_alike),
    Case("why-body-50MiB-chunked-refused", call("POST", "text2img", data=chunks(50 * MiB), headers=JSON),
         error((400, 413), operation="text2img"), error_alike),
    Case("body-at-the-limit-accepted", call("POST", "text2img", data=lambda: padded(DEFAULT_MAX_BODY), headers=JSON),
         generation("text2img"), status_of),
    Case("body-one-byte-over-the-limit-refused",
         call("POST", "text2img", data=lambda: padded(DEFAULT_MAX_BODY + 1), headers=JSON),
         error((400, 413), operation="text2img"), error_alike),
    Case("body-without-content-type-same-verdict", call("POST", "text2img", data=lambda: json.dumps(body())),
         either(generation("text2img"), error((400, 415), operation="text2img")), status_of),
    Case("fetch-body-at-the-limit-passes-intake",
         call("POST", "fetchById", params={"id": UNKNOWN_ID}, headers=JSON,
              data=lambda: padded(DEFAULT_MAX_BODY, {"key": KEY})),
         error(404, operation="fetchById"), error_alike),
    Case("fetch-body-one-byte-over-the-limit-refused",
         call("POST", "fetchById", params={"id": UNKNOWN_ID}, headers=JSON,
              data=lambda: padded(DEFAULT_MAX_BODY + 1, {"key": KEY})),
         error((400, 413), operation="fetchById"), error_alike),
    # -- 401 ----------------------------------------------------------------------------------------------
    Case("why-401-wrong-key-has-errors-list", call("POST", "text2img", json_body=body(key="wrong-key")),
         error(401, operation="text2img"), error_alike),
    Case("why-401-wrong-key-on-fetch-has-errors-list",
         call("POST", "fetchById", params={"id": 1}, json_body={"key": "wrong-key"}),
         error(401, operation="fetchById"), error_alike),
    Case("401-missing-key", call("POST", "text2img", json_body={k: v for k, v in body().items() if k != "key"}),
         error((400, 401), operation="text2img"), error_alike),
    # -- 404 ----------------------------------------------------------------------------------------------
    Case("why-404-unknown-path-same-message", lambda t: call("POST", path=unknown_path(), json_body=body())(t),
         error(404), error_alike),
    Case("why-404-unknown-page-same-message", call("GET", path="/no/such/page"), error(404), error_alike),
    Case("why-404-unknown-id-by-path-has-errors-list",
         call("POST", "fetchById", params={"id": UNKNOWN_ID}, json_body={"key": KEY}),
         error(404, operation="fetchById"), error_alike),
    Case("why-404-unknown-id-by-body-has-errors-list",
         call("POST", "fetch", json_body={"key": KEY, "request_id": UNKNOWN_ID}),
         error(404, operation="fetch"), error_alike),
    # -- 405 ----------------------------------------------------------------------------------------------
    Case("why-405-get-text2img-sends-allow", call("GET", "text2img"), error(405, allow="POST"), error_alike),
    Case("why-405-delete-fetch-sends-allow", call("DELETE", "fetch"), error(405, allow="POST"), error_alike),
    # -- 429 ----------------------------------------------------------------------------------------------
    Case("why-429-queue-full-has-errors-list", queue_full, check_queue_full, error_alike, servers="queue"),
    # -- 500 ----------------------------------------------------------------------------------------------
    Case("why-500-has-errors-list", lambda t: answer_of(t.text2img(body(**t.failing[0]), headers=t.failing[1])),
         error(500, operation="text2img"), lambda a: (a.status, a.body.get("message"))),
    # -- webhook_status -------------------------------------------------------------------------------
    Case("why-webhook-status-without-webhook", without_webhook, check_without_webhook,
         lambda a: (a.body.get("webhook_status", ABSENT), a.extra["fetched"].body.get("webhook_status", ABSENT))),
    Case("why-webhook-delivered-on-attempt-3-same-text", deliveries([500, 500], "delivered"),
         check_deliveries("delivered", 3), delivery_alike),
    Case("webhook-failed-after-every-attempt-same-text", deliveries([500] * 20, "failed"),
         check_deliveries("failed", None), delivery_alike),
    # -- meta ----------------------------------------------------------------------------------------------
    Case("why-meta-scheduler-when-none-sent", call("POST", "text2img", json_body=body()),
         generation("text2img"), meta_scheduler),
    Case("meta-echoes-request-fields", call("POST", "text2img", json_body=META_REQUEST),
         check_meta_echoes_request, meta_of_request_fields),
    Case("success-answers-carry-the-same-fields", call("POST", "text2img", json_body=body()),
         generation("text2img"), lambda a: sorted(a.body)),
    # -- images ------------------------------------------------------------------------------------------
    images_case("output-urls-serve-pngs-of-the-requested-size"),
    images_case("base64-output-is-pngs-of-the-requested-size", base64=True),
    images_case("upscale-enlarges-as-the-spec-says", upscale=True),
    images_case("samples-2-gives-two-images", samples=2),
    # -- fetch and Prefer ----------------------------------------------------------------------------
    Case("fetch-by-path-and-by-body-agree", both_fetch_forms, check_both_fetch_forms,
         lambda a: (a.extra["by_id"].status, a.extra["by_body"].status, sorted(a.extra["by_id"].body))),
    Case("prefer-respond-async-processing-then-success", processing_then_success("respond-async"),
         check_processing_then_success, processing_alike),
    Case("prefer-status-processing-then-success", processing_then_success("status=processing"),
         check_processing_then_success, processing_alike),
    Case("prefer-unknown-preference-ignored",
         call("POST", "text2img", json_body=body(), headers={"Prefer": "handling=lenient"}),
         generation("text2img"), status_of),
]

ids = [case.id for case in CASES]
assert len(set(ids)) == len(ids), "case ids must be unique"
