"""The JSON bodies the mock answers with, built from a stored :class:`~mock_server.store.Job`.

One place decides what a success, a processing answer and a webhook payload hold,
so text2img, both fetch forms and the webhook sender always agree on a job's id,
output URLs and meta. Image URLs are absolute, on the host the client used to
reach the mock (kept with the job, so fetch returns the very URLs text2img gave).
"""
from __future__ import annotations

import base64
from typing import Any

from .images import ImageCache
from .store import Job

__all__ = ["Payloads", "image_path"]

PROCESSING_MESSAGE = "Your request is being processed"
TIP = "This is a mock: images are deterministic placeholders drawn from the request."
TIP_FETCH = "Poll fetch_result (POST with your key) until status is success."


def image_path(job_id: int, index: int, proxy: bool = False) -> str:
    return f"{'/proxy' if proxy else ''}/generations/{job_id}/{index}.png"


class Payloads:
    """Builds answer bodies; base64 outputs are rendered through the shared image cache."""

    def __init__(self, images: ImageCache) -> None:
        self.images = images

    @staticmethod
    def links(job: Job, proxy: bool = False) -> list[str]:
        samples = int(job.meta.get("samples") or 1)
        return [job.base_url + image_path(job.id, i, proxy) for i in range(samples)]

    @staticmethod
    def generation_time(job: Job) -> float:
        """Simulated seconds: the queue delay, or what a GPU might take for this size and step count."""
        meta = job.meta
        pixels = int(meta["width"]) * int(meta["height"]) / (512 * 512)
        simulated = 0.3 + 0.04 * int(meta["num_inference_steps"]) * int(meta["samples"]) * pixels
        return round(max(simulated, job.ready_at - job.created), 3)

    def output(self, job: Job) -> list[str]:
        if job.meta.get("base64"):
            samples = int(job.meta.get("samples") or 1)
            return [base64.b64encode(self.images.get(job.id, i, job.meta)).decode("ascii") for i in range(samples)]
        return self.links(job)

    def success(self, job: Job) -> dict[str, Any]:
        return {
            "status": "success",
            "generationTime": self.generation_time(job),
            "id": job.id,
            "output": self.output(job),
            "proxy_links": self.links(job, proxy=True),
            "nsfw_content_detected": False,
            "webhook_status": job.webhook_status,
            "tip": TIP,
            "meta": job.meta,
        }

    def processing(self, job: Job, now: float | None = None) -> dict[str, Any]:
        return {
            "status": "processing",
            "tip": TIP,
            "tip_1": TIP_FETCH,
            "eta": job.eta(now),
            "message": PROCESSING_MESSAGE,
            "webhook_status": job.webhook_status,
            "fetch_result": f"{job.base_url}/api/v6/images/fetch/{job.id}",
            "id": job.id,
            "output": [],
            "meta": job.meta,
            "future_links": self.links(job),
        }

    def answer(self, job: Job, now: float | None = None) -> dict[str, Any]:
        """Success once the job is ready, processing before."""
        return self.success(job) if job.ready(now) else self.processing(job, now)

    def webhook(self, job: Job) -> dict[str, Any]:
        return {
            "status": "success",
            "id": job.id,
            "output": self.output(job),
            "generationTime": self.generation_time(job),
            "track_id": job.track_id,
            "meta": job.meta,
        }
