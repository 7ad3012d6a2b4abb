"""Issue 18, item 5: an input image is fetched once, at intake, and stored with the job.

Reproduced before the fixes: the backend fetched ``ip_adapter_image`` when it checked a
request and kept it in a cache of 8; a queued job whose image had been pushed out fetched
it again when it ran, so a URL that answered at submission and then hung or changed failed
an accepted job or gave it another picture. Here each reference image answers once and
then 404s; twelve queued jobs must all succeed from what was stored, each URL fetched once.
"""
from __future__ import annotations

import io
import threading
from collections import Counter
from typing import Any, Callable, Iterable

from PIL import Image

from tests.support import ServerThread, wait_for

from .conftest import Launch

JOBS = 12
TIMEOUT = 600.0  # polling deadline for a dozen tiny generations on a busy machine, never a claim about speed


class OnceImages:
    """``/ref-N.png`` answers a small PNG the first time and 404 after: a URL that changed after submission."""

    def __init__(self) -> None:
        self.fetches: Counter[str] = Counter()
        self.lock = threading.Lock()
        buffer = io.BytesIO()
        Image.new("RGB", (64, 64), (200, 40, 40)).save(buffer, "PNG")
        self.png = buffer.getvalue()
        self.server = ServerThread(self._wsgi)

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self.lock:
            self.fetches[environ["PATH_INFO"]] += 1
            first = self.fetches[environ["PATH_INFO"]] == 1
        if not first:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"gone"]
        start_response("200 OK", [("Content-Type", "image/png"), ("Content-Length", str(len(self.png)))])
        return [self.png]


def test_queued_ip_adapter_jobs_run_from_the_image_fetched_at_submission(launch: Launch) -> None:
    target = launch("backend", url_allow=("127.0.0.1",), sync_timeout=0.0)
    images = OnceImages()
    with images.server:
        ids = []
        for n in range(JOBS):
            body = target.body(ip_adapter_id="ip-adapter_sd15",
                               ip_adapter_image=f"{images.server.url}/ref-{n}.png")
            answer = target.text2img(body, headers={"Prefer": "respond-async"})
            assert answer.status_code == 200, answer.text
            ids.append(answer.json()["id"])

        def settled() -> list[dict[str, Any]] | None:
            answers = [target.fetch_by_id(job).json() for job in ids]
            return answers if all(a["status"] in ("success", "error", "failed") for a in answers) else None

        answers = wait_for(settled, timeout=TIMEOUT, interval=0.2)
    assert [a["status"] for a in answers] == ["success"] * JOBS, answers
    assert images.fetches == Counter({f"/ref-{n}.png": 1 for n in range(JOBS)})
