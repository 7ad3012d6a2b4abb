"""The JSON bodies this backend answers with, built from a stored job.

Shapes follow the spec: ``SuccessResponse``, ``ProcessingResponse``,
``ErrorResponse`` (a failed generation, answered by fetch with HTTP 200 as the
hosted API does), and the two ``WebhookPayload`` branches. Links are absolute,
built from the base URL of the request being answered (or ``--public-url``); a
webhook, sent outside any request, uses the base URL the generation was started on.
"""
from __future__ import annotations

from typing import Any

from t2i_contract.spec import error_body

from .jobs import Job
from .storage import ImageStore

__all__ = ["failed_body", "fetch_url", "image_urls", "job_meta", "processing_body", "success_body",
           "webhook_payload"]

TIP = "This is a self-hosted reference backend: images are made locally with diffusers."
PROCESSING_MESSAGE = "Your request is being processed"
FETCH_TIP = "Poll fetch_result (POST with your key) until status is success."


def fetch_url(job: Job, base_url: str) -> str:
    return f"{base_url}/api/v6/images/fetch/{job.id}"


def image_urls(job: Job, base_url: str, names: list[str] | None = None) -> list[str]:
    if names is None:
        names = [ImageStore.name(job.id, index) for index in range(job.request.samples)]
    return [f"{base_url}/images/{name}" for name in names]


def job_meta(job: Job) -> dict[str, Any]:
    """The request as understood (seed included), plus what the backend did with it."""
    return job.request.to_meta() | {"seed": job.seed} | job.info


def success_body(job: Job, images: ImageStore, base_url: str) -> dict[str, Any]:
    urls = image_urls(job, base_url, job.images)
    output = [images.base64(name) for name in job.images] if job.request.base64 else urls
    return {
        "status": "success",
        "id": job.id,
        "generationTime": round(job.generation_time or 0.0, 4),
        "output": output,
        "proxy_links": urls,
        "meta": job_meta(job),
        "nsfw_content_detected": any(job.nsfw),
        "webhook_status": job.webhook_status,
        "tip": TIP,
    }


def processing_body(job: Job, eta: float, base_url: str) -> dict[str, Any]:
    return {
        "status": "processing",
        "id": job.id,
        "eta": round(max(eta, 0.0), 2),
        "message": PROCESSING_MESSAGE,
        "tip": TIP,
        "tip_1": FETCH_TIP,
        "fetch_result": fetch_url(job, base_url),
        "output": [],
        "future_links": image_urls(job, base_url),
        "meta": job_meta(job),
        "webhook_status": job.webhook_status,
    }


def failed_body(job: Job) -> dict[str, Any]:
    """The error a failed generation ended with (its problems included), plus the id."""
    stored = job.info if job.info.get("status") == "error" else error_body(job.error or "generation failed")
    return {**stored, "id": job.id}


def webhook_payload(job: Job, images: ImageStore) -> dict[str, Any]:
    if job.state == "success":
        body = success_body(job, images, job.base_url)
        return {"status": "success", "id": job.id, "output": body["output"],
                "generationTime": body["generationTime"], "track_id": job.request.track_id, "meta": body["meta"]}
    return {"status": "failed", "id": job.id, "message": job.error or "generation failed",
            "track_id": job.request.track_id}
