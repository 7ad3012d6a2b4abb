"""The SQLite job store: order, atomic claims, recovery, and requests stored without their key."""
from __future__ import annotations

import hashlib
import sqlite3
import threading
from typing import TYPE_CHECKING

import pytest

from t2i_contract.reference_backend.jobs import FAILED, QUEUED, RUNNING, SUCCESS, JobStore, job_cost
from t2i_contract.spec import parse_text2img

from .support import text2img_body

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from t2i_contract.spec import Text2ImgRequest


def request(**fields: Any) -> Text2ImgRequest:
    return parse_text2img(text2img_body(**fields))


def test_jobs_are_claimed_oldest_first_and_only_once(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    ids = [store.add(request(prompt=f"p{i}"), "k", i, "http://x") for i in range(20)]
    claimed: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        while (job := store.claim()) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == ids and len(set(claimed)) == len(ids)
    assert store.get(ids[0]).state == RUNNING


def test_request_round_trips_without_the_key(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    original = request(lora_model="a,b", lora_strength="0.5,0.6", key="secret-key", unknown_field=[1, 2])
    job_id = store.add(original, original.key, 42, "http://x")
    job = store.get(job_id)
    assert job.request.loras == (("a", 0.5), ("b", 0.6))
    assert job.request.extra == {"unknown_field": [1, 2]}
    assert job.request.key == "" and job.key_hash == store.key_digest("secret-key")
    raw = sqlite3.connect(tmp_path / "jobs.sqlite3").execute("SELECT * FROM jobs").fetchall()
    assert "secret-key" not in repr(raw)
    assert hashlib.sha256(b"secret-key").hexdigest() not in repr(raw), "an unkeyed hash can be checked offline"


def test_key_digests_are_keyed_per_store_and_kept_across_opens(tmp_path: Path) -> None:
    first, other = JobStore(tmp_path / "a.sqlite3"), JobStore(tmp_path / "b.sqlite3")
    digest, elsewhere, another = first.key_digest("k"), other.key_digest("k"), first.key_digest("k2")
    first.close()
    other.close()
    again = JobStore(tmp_path / "a.sqlite3")
    reopened = again.key_digest("k")
    again.close()
    assert digest != elsewhere and digest != another
    assert reopened == digest


def test_recover_requeues_running_jobs(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    store = JobStore(path)
    first = store.add(request(), "k", 1, "http://x")
    second = store.add(request(), "k", 2, "http://x")
    store.claim()
    store.close()
    reopened = JobStore(path)
    assert reopened.recover() == 1
    assert [reopened.get(first).state, reopened.get(second).state] == [QUEUED, QUEUED]
    assert reopened.claim().id == first


def test_finished_jobs_keep_their_results(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    ok = store.add(request(), "k", 1, "http://x")
    bad = store.add(request(), "k", 2, "http://x")
    store.succeed(ok, ["1-0.png"], [True], {"notes": ["n"]}, 1.5, None)
    store.fail(bad, "it broke", 400)
    assert store.get(ok).state == SUCCESS and store.get(ok).nsfw == [True] and store.get(ok).generation_time == 1.5
    assert (store.get(bad).state, store.get(bad).error, store.get(bad).error_status) == (FAILED, "it broke", 400)
    assert store.waiting() == 0
    assert store.get(ok).cost == pytest.approx(256 * 256 * 3 / (512 * 512 * 20))
    assert store.seconds_per_cost() == pytest.approx(1.5 / store.get(ok).cost)


def test_cost_scales_with_pixels_steps_samples_and_highres() -> None:
    small = job_cost(request(width=256, height=256, num_inference_steps=10))
    assert job_cost(request(width=512, height=256, num_inference_steps=10)) == 2 * small
    assert job_cost(request(width=256, height=256, num_inference_steps=20)) == 2 * small
    assert job_cost(request(width=256, height=256, num_inference_steps=10, samples=3)) == 3 * small
    assert job_cost(request(width=256, height=256, num_inference_steps=10, highres_fix=True)) == 2 * small
    assert job_cost(request(width=512, height=512, num_inference_steps=20)) == 1.0
