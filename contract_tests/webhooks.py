"""The ``webhook`` promise, on every operation whose request documents a ``webhook`` field.

:func:`webhook_promise` sends one cheap body with ``webhook`` pointing at a receiver the
suite runs and a fresh ``track_id``, asking for a processing answer (the Prefer header),
so the job is still queued when it is accepted. The reading of the spec it holds the
server to: the webhook "receives the result as a POST once the generation ends", so

* exactly one payload with the request's ``track_id`` arrives, within ``--webhook-timeout``;
* it conforms to the webhook schema, says ``success``, carries the generation's ``id`` and
  ``samples`` outputs;
* its images can be downloaded the moment it arrives (the receiver downloads them before it
  answers: a server that posts when the job is queued announces images it cannot serve yet),
  and they are measured like the answer's (the spec's output size on text2img, the init
  image's size on img2img and inpaint).

A duplicate is counted once the generation has been followed to its result and the
payload's images downloaded; the suite waits no longer than that for one.
"""
from __future__ import annotations

import time
import uuid
from typing import Any

from t2i_contract.spec import parse_request

from .engine import Engine, Inputs, Outcome
from .images import LoadedImage, load_outputs
from .listener import WebhookReceiver
from .recording import Recorder

__all__ = ["documents_webhook", "webhook_promise"]


def documents_webhook(engine: Engine, operation: str) -> bool:
    """Does ``operation``'s request take a ``webhook``?"""
    return any(item.name == "webhook" for item in engine.spec.request_fields(operation))


def webhook_promise(engine: Engine, recorder: Recorder, operation: str, body: dict[str, Any],
                    inputs: Inputs | None = None, context: str = "") -> None:
    """Send ``body`` (a cheap valid body of ``operation``) with a webhook to the suite, and judge what arrives."""
    settings = engine.settings
    token = uuid.uuid4().hex
    request = parse_request(operation, body, engine.spec)

    def download(payload: Any) -> list[LoadedImage]:
        output = payload.get("output") if isinstance(payload, dict) else None
        return load_outputs(engine.client, output, as_base64=request.base64) if isinstance(output, list) else []

    with WebhookReceiver(settings.webhook_host, on_arrival=download) as receiver:
        sent = body | {"webhook": f"{receiver.url}/{token}", "track_id": token}
        out = engine.evaluate_valid(sent, headers={"Prefer": engine.processing}, operation=operation, inputs=inputs)
        where = "; ".join(filter(None, [f"{operation} with a webhook, asked to be processing with Prefer: "
                                        f"{engine.processing}", context]))
        recorder.record(out, context=where)
        if out.result is None:
            if engine.stalled.is_set():
                recorder.skip("webhook", "the webhook probe's generation was not followed (see lifecycle)")
            return
        waited = time.monotonic()
        ours = lambda d: isinstance(d.payload, dict) and d.payload.get("track_id") == token  # noqa: E731
        delivery = receiver.wait_for(ours, settings.webhook_timeout)
        count = sum(1 for d in receiver.deliveries if ours(d))
    judged = Outcome()
    judged.seconds["webhook"] = time.monotonic() - waited
    if delivery is None:
        problems = [f"no payload with track_id {token} reached {receiver.url}/{token} within "
                    f"{settings.webhook_timeout:g}s (the spec: the webhook receives the result once the generation "
                    "ends)"]
    else:
        problems = _payload_problems(engine, request, out, delivery.payload, delivery.seen or [], inputs)
        if count > 1:
            problems.append(f"{count} payloads with track_id {token} arrived; the spec posts the result once")
    judged.judge("webhook", problems, out.exchange)
    recorder.record(judged, context=where)


def _payload_problems(engine: Engine, request: Any, out: Outcome, payload: dict[str, Any],
                      images: list[LoadedImage], inputs: Inputs | None) -> list[str]:
    assert out.result is not None
    generation_id = out.result.get("id")
    problems = [f"payload: {p}" for p in engine.spec.responses.check_webhook(payload)]
    if payload.get("status") != "success":
        problems.append(f"payload status is {payload.get('status')!r}, expected 'success'")
    if payload.get("id") != generation_id:
        problems.append(f"payload id is {payload.get('id')!r}, the generation's id is {generation_id!r}")
    output = payload.get("output")
    if not isinstance(output, list) or len(output) != request.samples:
        problems.append(f"payload output has {len(output) if isinstance(output, list) else 0} item(s) "
                        f"for samples={request.samples}")
    if inputs and "init_image" in inputs:
        want = inputs["init_image"][0]
    else:
        want = engine.spec.output_size(request.width, request.height, request.upscale)
    for image in images:
        if image.problem:
            problems.append(f"payload {image.problem}, downloaded as the payload arrived: the webhook came before "
                            "its images could be downloaded (the spec: it is sent once the generation ends)")
        elif image.size != want:
            size = image.size or (0, 0)
            problems.append(f"payload output[{image.index}] is {size[0]}x{size[1]}, expected {want[0]}x{want[1]}")
    return problems
