"""A restart loses no accepted job: queued and interrupted jobs run on the next server, finished ones stay."""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import requests

from t2i_contract.reference_backend import Generator
from tests.support import wait_for

from .support import decode_png, serve

if TYPE_CHECKING:
    from pathlib import Path

    from t2i_contract.reference_backend import GenerationResult
    from t2i_contract.spec import Text2ImgRequest


class Holding(Generator):
    """Runs the real generator, but only once ``release`` is set."""

    def __init__(self, inner: Generator, release: threading.Event) -> None:
        self.inner = inner
        self.release = release

    def check(self, request: Text2ImgRequest) -> None:
        self.inner.check(request)

    def generate(self, request: Text2ImgRequest, seed: int) -> GenerationResult:
        self.release.wait()
        return self.inner.generate(request, seed)


def test_queued_and_interrupted_jobs_complete_after_a_restart(tiny_generator: Generator, tmp_path: Path) -> None:
    from .support import KeepOpen

    release = threading.Event()
    release.set()
    with serve(Holding(KeepOpen(tiny_generator), release), tmp_path, sync_timeout=60.0) as first:
        finished = first.text2img(prompt="before the restart").json()
        assert finished["status"] == "success"
        release.clear()
        first.service.config.sync_timeout = 0.0
        pending = [first.text2img(prompt=f"pending {i}", seed=100 + i).json() for i in range(3)]
        assert [p["status"] for p in pending] == ["processing"] * 3
        wait_for(lambda: first.service.store.get(pending[0]["id"]).state == "running")
        # The worker is inside a generation when the server stops; it finishes after the stop
        # and its result is thrown away, as if the process had died.
        threading.Timer(0.3, release.set).start()
    assert first.service.store.path.exists()

    with serve(KeepOpen(tiny_generator), tmp_path) as second:
        for job in pending:
            done = wait_for(lambda job=job: second.fetch(job["id"]).json()["status"] == "success"
                            and second.fetch(job["id"]).json(), timeout=60)
            assert done["meta"]["seed"] == job["meta"]["seed"]
            assert done["meta"]["prompt"] == job["meta"]["prompt"]
            image = requests.get(done["output"][0], timeout=10)
            assert image.status_code == 200 and decode_png(image.content).size == (256, 256)
            assert done["output"][0].startswith(second.url)
        again = second.fetch(finished["id"]).json()
        assert again["status"] == "success" and again["meta"]["prompt"] == "before the restart"
        assert requests.get(again["output"][0], timeout=10).status_code == 200
        ids = [job["id"] for job in pending]
        assert len(set(ids + [finished["id"]])) == 4
        fresh = second.text2img().json()
        assert fresh["id"] > max(ids), "ids keep growing across restarts"


def test_a_webhook_still_being_retried_at_shutdown_is_sent_after_the_restart(tmp_path: Path) -> None:
    from t2i_contract.reference_backend import FakeGenerator
    from tests.support import WebhookListener

    generator = FakeGenerator(("tiny-sd",))
    with WebhookListener(status_codes=[503]) as hook:
        with serve(generator, tmp_path, webhook_retries=3, webhook_backoff=30.0) as first:
            job = first.text2img(webhook=hook.url, track_id="survivor").json()
            hook.wait(1)  # the first attempt failed; the next one is 30 s away when the server stops
        assert len(hook.received) == 1
        with serve(generator, tmp_path) as second:
            wait_for(lambda: second.fetch(job["id"]).json()["webhook_status"].startswith("delivered"))
            payload = hook.received[-1]["json"]
    assert len(hook.received) == 2
    assert payload["id"] == job["id"] and payload["track_id"] == "survivor" and payload["status"] == "success"
