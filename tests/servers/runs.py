"""The requests a behaviour case makes, each ending in the :class:`~tests.servers.checks.Answer` it judges.

A run talks to one :class:`~tests.servers.targets.Target` and knows nothing of which server it
is. One-request cases use :func:`call`; the others (a webhook delivery followed through every
attempt, a processing answer polled to its end, images fetched from their URLs, a queue filled
up) keep what they saw later in ``Answer.extra``. Polls have a generous deadline and never sleep
a fixed time; a webhook's end is recognised by the spec's own ``webhook_status`` forms.
"""
from __future__ import annotations

import base64
import json
import posixpath
from typing import Any, Callable, Iterator

from tests.support import wait_for

from .checks import Answer, answer_of, webhook_status_pattern
from .receiver import ScriptedReceiver
from .targets import KEY, Target

__all__ = ["POLL", "both_fetch_forms", "call", "chunks", "deliveries", "padded", "processing_then_success",
           "queue_full", "unknown_path", "with_images", "without_webhook"]

body = Target.body
PADDING = "padding"  # a field the spec does not list: ignored, never rejected, so only its size matters
POLL = 60.0  # generous deadline for a job or a delivery to finish


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


def padded(size: int, fields: dict[str, Any] | None = None) -> bytes:
    """A valid body (text2img's unless ``fields`` is given) of exactly ``size`` bytes, or its bare size."""
    start = body() if fields is None else fields
    bare = len(json.dumps({**start, PADDING: ""}).encode())
    raw = json.dumps({**start, PADDING: "x" * max(size - bare, 0)}).encode()
    assert len(raw) == max(size, bare)
    return raw


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


def without_webhook(target: Target) -> Answer:
    first = answer_of(target.text2img())
    return Answer(first.status, first.headers, first.body,
                  {"fetched": answer_of(target.fetch_by_id(_job_id(first)))})


def deliveries(codes: list[int], final_state: str) -> Callable[[Target], Answer]:
    """A receiver answering ``codes`` in turn (then 200); the job's status once it is in ``final_state``.

    The job is fetched during every delivery (see ``receiver.py``), so the statuses the server
    reported between attempts are kept too.
    """

    def run(target: Target) -> Answer:
        final_form = webhook_status_pattern(final_state)  # without the spec's vocabulary, fail now, not at the deadline

        def observe(payload: Any) -> Answer:
            return answer_of(target.fetch_by_id(payload["id"]))

        with ScriptedReceiver(codes, observe) as hook:
            first = answer_of(target.text2img(body(webhook=hook.url, track_id="hooked")))
            job = _job_id(first)

            def settled() -> Answer | None:
                now = answer_of(target.fetch_by_id(job))
                status = now.body.get("webhook_status")
                return now if isinstance(status, str) and final_form.match(status) else None

            final = wait_for(settled, POLL)
            return Answer(first.status, first.headers, first.body,
                          {"final": final, "payloads": list(hook.payloads), "observed": list(hook.observed)})

    return run


def processing_then_success(prefer: str) -> Callable[[Target], Answer]:
    """text2img with a ``Prefer`` header, then its ``fetch_result`` polled until it is no longer processing."""

    def run(target: Target) -> Answer:
        first = answer_of(target.text2img(headers={"Prefer": prefer}))
        if first.body.get("status") != "processing" or not first.body.get("fetch_result"):
            return first

        def done() -> Answer | None:
            now = answer_of(target.request("POST", first.body["fetch_result"], json={"key": KEY}))
            return now if now.body.get("status") != "processing" else None

        return Answer(first.status, first.headers, first.body, {"final": wait_for(done, POLL), "server": target.url})

    return run


def with_images(fields: dict[str, Any]) -> Callable[[Target], Answer]:
    """text2img, then every image of the answer: fetched from its URL, or decoded from base64."""

    def run(target: Target) -> Answer:
        first = answer_of(target.text2img(body(**fields)))
        images = []
        for item in first.body.get("output") or []:
            if fields.get("base64"):
                images.append(("base64", base64.b64decode(item)))
            else:
                response = target.request("GET", item)
                images.append((response.headers.get("Content-Type", ""), response.content))
        return Answer(first.status, first.headers, first.body, {"images": images})

    return run


def both_fetch_forms(target: Target) -> Answer:
    first = answer_of(target.text2img())
    job = _job_id(first)
    return Answer(first.status, first.headers, first.body,
                  {"by_id": answer_of(target.fetch_by_id(job)), "by_body": answer_of(target.fetch_by_body(job))})


def queue_full(target: Target) -> Answer:
    wait = {"Prefer": "status=processing"}  # both jobs would wait: only waiting jobs count against the limit
    held = answer_of(target.text2img(headers=wait))
    second = answer_of(target.text2img(body(seed=99), headers=wait))
    second.extra["held"] = held
    return second
