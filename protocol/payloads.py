"""The JSON bodies every server answers with, built from one small job interface.

A server describes a generation as a :class:`JobView`: a snapshot of what a client
may learn about it (its state, ``meta``, image links, timings, webhook status). The
builders here decide what a success, a processing answer, a failed generation and
a webhook payload hold, so text2img, both fetch forms and the webhook sender of
every server agree on a job's id, links and meta.

``meta`` is the request as understood (seed filled in). What a server did beyond
the request (the backend's effective scheduler, its notes) travels in ``meta``
under keys the request does not use, never by overwriting a request field: with
no ``scheduler`` asked for, ``meta.scheduler`` is ``null`` on every server.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from t2i_contract.spec import error_body

__all__ = ["PROCESSING_MESSAGE", "TIP_FETCH", "JobView", "answer", "failed_body", "fetch_url",
           "processing_body", "success_body", "webhook_body", "with_server_info"]

PROCESSING_MESSAGE = "Your request is being processed"
TIP_FETCH = "Poll fetch_result (POST with your key) until status is success."

PROCESSING, SUCCESS, FAILED = "processing", "success", "failed"


@dataclass(frozen=True, slots=True)
class JobView:
    """What the protocol needs to know about one generation to answer about it.

    ``links`` are the absolute image URLs (``future_links`` while processing);
    ``output`` is called only for a success and returns what ``output`` holds (the
    links, or base64 PNGs when the request asked for them). ``error`` is the failed
    generation's error body and ``error_status`` the HTTP status text2img answers it
    with. ``fetch_base`` is the base URL the fetch link is built on.
    """

    id: int
    state: str
    meta: dict[str, Any]
    links: Sequence[str]
    fetch_base: str
    tip: str
    webhook_status: str
    track_id: str | None = None
    eta: float = 0.0
    generation_time: float = 0.0
    nsfw: bool = False
    proxy_links: Sequence[str] | None = None
    output: Callable[[], list[str]] | None = None
    error: dict[str, Any] | None = None
    error_status: int = 500


USED_SUFFIX = "_used"


def with_server_info(meta: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """``meta`` plus what a server reports about the run, never overwriting a request field.

    A server entry whose name is a request field goes under ``<name>_used``: the
    backend's effective scheduler is ``meta.scheduler_used`` while ``meta.scheduler``
    stays what the client asked for (``null`` for the model's own).
    """
    merged = dict(meta)
    for name, value in info.items():
        merged[name + USED_SUFFIX if name in meta else name] = value
    return merged


def fetch_url(base_url: str, job_id: int, base_path: str) -> str:
    return f"{base_url}{base_path}/fetch/{job_id}"


def success_body(job: JobView) -> dict[str, Any]:
    output = job.output() if job.output is not None else list(job.links)
    return {
        "status": SUCCESS,
        "generationTime": round(job.generation_time, 4),
        "id": job.id,
        "output": output,
        "proxy_links": list(job.links if job.proxy_links is None else job.proxy_links),
        "nsfw_content_detected": job.nsfw,
        "webhook_status": job.webhook_status,
        "tip": job.tip,
        "meta": job.meta,
    }


def processing_body(job: JobView, base_path: str) -> dict[str, Any]:
    return {
        "status": PROCESSING,
        "tip": job.tip,
        "tip_1": TIP_FETCH,
        "eta": round(max(job.eta, 0.0), 2),
        "message": PROCESSING_MESSAGE,
        "webhook_status": job.webhook_status,
        "fetch_result": fetch_url(job.fetch_base, job.id, base_path),
        "id": job.id,
        "output": [],
        "meta": job.meta,
        "future_links": list(job.links),
    }


def failed_body(job: JobView) -> dict[str, Any]:
    """The error a failed generation ended with (its problems included), plus the id."""
    stored = job.error if job.error and job.error.get("status") == "error" else error_body("generation failed")
    return {**stored, "id": job.id}


def answer(job: JobView, base_path: str) -> dict[str, Any]:
    """The body about ``job`` in its current state."""
    if job.state == SUCCESS:
        return success_body(job)
    if job.state == FAILED:
        return failed_body(job)
    return processing_body(job, base_path)


def webhook_body(job: JobView) -> dict[str, Any]:
    """The ``WebhookPayload`` for a finished job (``WebhookSuccess`` or ``WebhookFailure``)."""
    if job.state == FAILED:
        message = (job.error or {}).get("message") or "generation failed"
        return {"status": "failed", "id": job.id, "message": message, "track_id": job.track_id}
    return {
        "status": SUCCESS,
        "id": job.id,
        "output": job.output() if job.output is not None else list(job.links),
        "generationTime": round(job.generation_time, 4),
        "track_id": job.track_id,
        "meta": job.meta,
    }
