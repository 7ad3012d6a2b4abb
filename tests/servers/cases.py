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

import json
import posixpath
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from t2i_contract.spec import load_spec
from tests.support import wait_for

from .checks import Answer, Check, answer_of, error, error_alike, generation, webhook_status_form
from .receiver import ScriptedReceiver
from .targets import KEY, Target

__all__ = ["CASES", "Case"]

body = Target.body
ABSENT = "<absent>"
MiB = 1024 * 1024
UNKNOWN_ID = 987654321
PADDING = "padding"  # a field the spec does not list: ignored, never rejected, so only its size matters
POLL = 60.0  # generous deadline for a job or a delivery to finish


@dataclass(frozen=True)
class Case:
    id: str
    run: Callable[[Target], Answer]
    check: Check
    alike: Callable[[Answer], Any]
    servers: str = "main"


def call(method: str, operation: str | None = None, *, path: str | None = None, params: dict[str, Any] | None = None,
         json_body: Any = None, data: Any = None, headers: dict[str, str] | None = None) -> Callable[[Target], Answer]:
    """One request: to an operation's spec path (or a literal ``path``), with a JSON body or raw ``data``."""

    def run(target: Target) -> Answer:
        url = path if path is not None else target.path(operation or "", **(params or {}))
        payload = data() if callable(data) else data
        return answer_of(target.request(method, url, json=json_body, data=payload, headers=headers))

    return run


def unknown_path() -> str:
    return posixpath.dirname(Target.path("text2img")) + "/no-such-operation"


def padded(size: int) -> bytes:
    """A valid text2img body of about ``size`` bytes."""
    return json.dumps(body(**{PADDING: "x" * size})).encode()


def chunks(size: int, piece: int = 256 * 1024) -> Callable[[], Iterator[bytes]]:
    """A valid body sent chunked (no Content-Length), so a limit must count what it reads."""

    def generate() -> Iterator[bytes]:
        raw = padded(size)
        for start in range(0, len(raw), piece):
            yield raw[start:start + piece]

    return generate


def _job_id(answer: Answer) -> int:
    assert answer.status == 200 and isinstance(answer.body, dict) and "id" in answer.body, \
        f"expected an accepted generation, got {answer}"
    return int(answer.body["id"])


# -- multi-step runs ----------------------------------------------------------------------------
def without_webhook(target: Target) -> Answer:
    first = answer_of(target.text2img())
    return Answer(first.status, first.headers, first.body,
                  {"fetched": answer_of(target.fetch_by_id(_job_id(first)))})


def check_without_webhook(answer: Answer) -> None:
    generation("text2img")(answer)
    fetched = answer.extra["fetched"]
    generation("fetchById")(fetched)
    assert "webhook_status" in answer.body and "webhook_status" in fetched.body, \
        f"webhook_status is missing: {answer} / {fetched}"
    assert answer.body["webhook_status"] == fetched.body["webhook_status"], \
        f"text2img and fetch disagree on webhook_status: {answer} / {fetched}"
    webhook_status_form("none", answer.body["webhook_status"])


def deliveries(codes: list[int], final_state: str) -> Callable[[Target], Answer]:
    """A receiver answering ``codes`` in turn (then 200); the job's status once it is in ``final_state``.

    The job is fetched during every delivery (see ``receiver.py``), so the statuses the server
    reported between attempts are kept too.
    """

    def run(target: Target) -> Answer:
        def observe(payload: Any) -> Answer:
            return answer_of(target.fetch_by_id(payload["id"]))

        with ScriptedReceiver(codes, observe) as hook:
            first = answer_of(target.text2img(body(webhook=hook.url, track_id="hooked")))
            job = _job_id(first)

            def settled() -> Answer | None:
                now = answer_of(target.fetch_by_id(job))
                status = now.body.get("webhook_status")
                try:
                    webhook_status_form(final_state, status)
                except AssertionError:
                    return None
                return now

            final = wait_for(settled, POLL)
            return Answer(first.status, first.headers, first.body,
                          {"final": final, "payloads": list(hook.payloads), "observed": list(hook.observed)})

    return run


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
    """What a client sees of a delivery: how many POSTs, every status on the way, the final one."""
    observed = [seen.body.get("webhook_status") if isinstance(seen, Answer) else repr(seen)
                for seen in answer.extra["observed"]]
    return len(answer.extra["payloads"]), observed, answer.extra["final"].body.get("webhook_status")


def processing_then_success(prefer: str) -> Callable[[Target], Answer]:
    """text2img with a ``Prefer`` header, then its ``fetch_result`` polled until it is no longer processing."""

    def run(target: Target) -> Answer:
        first = answer_of(target.text2img(headers={"Prefer": prefer}))
        if first.body.get("status") != "processing" or not first.body.get("fetch_result"):
            return first

        def done() -> Answer | None:
            now = answer_of(target.request("POST", first.body["fetch_result"], json={"key": KEY}))
            return now if now.body.get("status") != "processing" else None

        return Answer(first.status, first.headers, first.body, {"final": wait_for(done, POLL)})

    return run


def check_processing_then_success(answer: Answer) -> None:
    generation("text2img", "processing")(answer)
    assert "final" in answer.extra, f"a processing answer must carry a fetch_result to poll: {answer}"
    final = answer.extra["final"]
    generation("fetchById")(final)
    assert final.body["id"] == answer.body["id"], f"fetch_result answered another job: {final}"
    assert final.body["output"] == answer.body.get("future_links"), \
        f"future_links {answer.body.get('future_links')} are not the images' URLs {final.body['output']}"


def both_fetch_forms(target: Target) -> Answer:
    first = answer_of(target.text2img())
    job = _job_id(first)
    return Answer(first.status, first.headers, first.body,
                  {"by_id": answer_of(target.fetch_by_id(job)), "by_body": answer_of(target.fetch_by_body(job))})


def check_both_fetch_forms(answer: Answer) -> None:
    generation("text2img")(answer)
    by_id, by_body = answer.extra["by_id"], answer.extra["by_body"]
    generation("fetchById")(by_id)
    generation("fetch")(by_body)
    assert by_id.body == by_body.body, f"the two fetch forms answer differently: {by_id} / {by_body}"
    assert by_id.body["id"] == answer.body["id"] and by_id.body["output"] == answer.body["output"], \
        f"fetch does not return what text2img did: {by_id} / {answer}"


def queue_full(target: Target) -> Answer:
    wait = {"Prefer": "status=processing"}  # both jobs would wait: only waiting jobs count against the limit
    held = answer_of(target.text2img(headers=wait))
    second = answer_of(target.text2img(body(seed=99), headers=wait))
    second.extra["held"] = held
    return second


def check_queue_full(answer: Answer) -> None:
    generation("text2img", "processing")(answer.extra["held"])
    error(429, operation="text2img")(answer)
    assert isinstance(answer.body.get("retry_after"), int), f"a 429 says when to retry (retry_after): {answer}"


# -- meta ------------------------------------------------------------------------------------------
META_REQUEST = body(negative_prompt="blurry, low contrast", guidance_scale=6.5, seed=4321, samples=1,
                    track_id="meta-case", safety_checker=False, base64=False)


def request_fields() -> list[str]:
    """The text2img request's fields as the spec lists them, the key excepted."""
    return [name for name in load_spec().request_schema("text2img")["properties"] if name != "key"]


def check_meta_echoes_request(answer: Answer) -> None:
    generation("text2img")(answer)
    meta = answer.body.get("meta")
    assert isinstance(meta, dict), f"no meta: {answer}"
    assert "key" not in meta and KEY not in json.dumps(meta), f"meta leaks the API key: {meta}"
    wrong = {name: (value, meta.get(name, ABSENT)) for name, value in META_REQUEST.items()
             if name != "key" and meta.get(name, ABSENT) != value}
    assert not wrong, f"meta does not echo the request (sent, meta): {wrong}"


def meta_of_request_fields(answer: Answer) -> Any:
    meta = answer.body.get("meta") or {}
    return {name: meta.get(name, ABSENT) for name in request_fields()}


def meta_scheduler(answer: Answer) -> Any:
    return (answer.body.get("meta") or {}).get("scheduler", ABSENT)


def status_of(answer: Answer) -> Any:
    return answer.status, answer.body.get("status")


def final_status_of(answer: Answer) -> Any:
    final = answer.extra.get("final")
    return status_of(answer), status_of(final) if final is not None else None


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
    Case("body-256KiB-same-verdict", call("POST", "text2img", data=lambda: padded(MiB // 4), headers=JSON),
         either(generation("text2img"), error((400, 413), operation="text2img")), status_of),
    Case("body-2MiB-same-verdict", call("POST", "text2img", data=lambda: padded(2 * MiB), headers=JSON),
         either(generation("text2img"), error((400, 413), operation="text2img")), status_of),
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
    # -- fetch and Prefer ----------------------------------------------------------------------------
    Case("fetch-by-path-and-by-body-agree", both_fetch_forms, check_both_fetch_forms,
         lambda a: (a.extra["by_id"].status, a.extra["by_body"].status, sorted(a.extra["by_id"].body))),
    Case("prefer-respond-async-processing-then-success", processing_then_success("respond-async"),
         check_processing_then_success, final_status_of),
    Case("prefer-status-processing-then-success", processing_then_success("status=processing"),
         check_processing_then_success, final_status_of),
    Case("prefer-unknown-preference-ignored", call("POST", "text2img", json_body=body(), headers={"Prefer": "handling=lenient"}),
         generation("text2img"), status_of),
]

ids = [case.id for case in CASES]
assert len(set(ids)) == len(ids), "case ids must be unique"
