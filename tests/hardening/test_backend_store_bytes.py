"""Issue 18, item 6 (second pass): the reference backend's job store and images are bounded in bytes.

Reproduced before the fix: ``t2i serve`` kept every job in its SQLite store and every generated
PNG on disk for as long as it ran (only ``temp`` images expired): no flag bounded either, so
its data folder grew with every request. ``--max-store-bytes`` (1 GiB by default, the option
the mock has too) now bounds the jobs and their image files together: finished jobs go oldest
first, their files with them, and their fetch and image links answer 404; a queued or running
job is never dropped, however far over the bound the store is.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

import pytest
import requests

from t2i_contract.reference_backend import Generator
from tests.reference_backend.support import serve
from tests.servers.targets import KEY, Gated, Target
from tests.support import wait_for

from .conftest import Launch

KIB = 1024
TIMEOUT = 120.0
ASYNC = {"Prefer": "respond-async"}


def _disk(folder: Path) -> int:
    """Bytes of every file under ``folder``: the SQLite store, its log and the images."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def test_finished_jobs_and_their_images_go_oldest_first_within_the_bound(launch: Launch, tmp_path: Path) -> None:
    bound = 400 * KIB
    target = launch("backend", max_store_bytes=bound)
    data = next(tmp_path.glob("backend-*"))
    done = []
    for n in range(10):
        answer = target.text2img(target.body(seed=n, prompt=f"{n} " + "lighthouse " * 80))
        assert answer.status_code == 200 and answer.json()["status"] == "success", answer.text[:300]
        done.append(answer.json())
    image_bytes = sum(len(requests.get(link, timeout=TIMEOUT).content) for link in done[-1]["output"])
    assert image_bytes * len(done) > 2 * bound, "the images are too small to prove the bound"
    # the folder (store, its log, the images) holds the bound and a small store of its own, not 10 jobs
    assert _disk(data) < bound + 200 * KIB, f"{_disk(data)} bytes on disk for a bound of {bound}"
    oldest, newest = done[0], done[-1]
    assert target.fetch_by_id(oldest["id"]).status_code == 404
    gone = requests.get(oldest["output"][0], timeout=TIMEOUT)
    assert gone.status_code == 404, gone.status_code
    assert not any(name in str(path) for path in data.rglob("*.png")
                   for name in (oldest["output"][0].rsplit("/", 1)[1],))
    kept = target.fetch_by_id(newest["id"])
    assert kept.status_code == 200 and kept.json()["status"] == "success", kept.text[:300]
    assert requests.get(newest["output"][0], timeout=TIMEOUT).status_code == 200


class _Turns:
    """A gate that lets one generation through per :meth:`set` (``Gated`` waits on it)."""

    def __init__(self) -> None:
        self._turns = threading.Semaphore(0)

    def wait(self) -> None:
        self._turns.acquire()

    def set(self) -> None:
        self._turns.release()


@pytest.fixture
def turnstile(tiny_generator: Generator, tmp_path: Path) -> Iterator[tuple[Target, _Turns]]:
    turns = _Turns()
    with serve(Gated(tiny_generator, turns), tmp_path / "backend", keys=(KEY,), max_store_bytes=KIB,
               generation_threads=1) as server:
        target = Target("backend", server.url)
        try:
            yield target, turns
        finally:
            for _ in range(8):
                turns.set()  # a generation still held may end; the stopping service throws it away
            target.close()


def _state(target: Target, job_id: int) -> tuple[int, str]:
    answer = target.fetch_by_id(job_id)
    return answer.status_code, answer.json().get("status", "") if answer.status_code == 200 else ""


def test_queued_and_running_jobs_are_never_dropped_however_far_over_the_bound(
        turnstile: tuple[Target, _Turns]) -> None:
    target, turns = turnstile
    ids = []
    for n in range(3):  # the first runs (held at the gate), the others wait in the queue
        answer = target.text2img(target.body(seed=n), headers=ASYNC)
        assert answer.status_code == 200 and answer.json()["status"] == "processing", answer.text[:300]
        ids.append(answer.json()["id"])
    first, second, third = ids

    turns.set()  # the first finishes: the store (an image, two queued rows) is over its 1 KiB
    wait_for(lambda: _state(target, first) == (200, "success"), timeout=TIMEOUT, interval=0.05)
    assert _state(target, second) == (200, "processing")
    assert _state(target, third) == (200, "processing")

    turns.set()  # the second finishes: now the first, finished and older, goes
    wait_for(lambda: _state(target, second) == (200, "success"), timeout=TIMEOUT, interval=0.05)
    wait_for(lambda: _state(target, first)[0] == 404, timeout=TIMEOUT, interval=0.05)
    assert _state(target, third) == (200, "processing")  # still queued, still kept

    turns.set()
    wait_for(lambda: _state(target, third) == (200, "success"), timeout=TIMEOUT, interval=0.05)
    wait_for(lambda: _state(target, second)[0] == 404, timeout=TIMEOUT, interval=0.05)
