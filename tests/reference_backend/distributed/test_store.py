"""The Redis job store on a real Redis: the same answers as the SQLite store, atomic across processes."""
from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING

from t2i_contract.protocol import ManualClock
from t2i_contract.reference_backend.distributed import RedisJobStore
from t2i_contract.reference_backend.distributed.store import RECORD_LINGER
from t2i_contract.reference_backend.jobs import FAILED, QUEUED, RUNNING, SUCCESS
from t2i_contract.spec import Text2ImgRequest

if TYPE_CHECKING:
    from .cluster import RedisServer


def _request(**fields: object) -> Text2ImgRequest:
    values: dict[str, object] = {"key": "k", "model_id": "tiny-sd", "prompt": "a lighthouse", "width": 512,
                                 "height": 512, "num_inference_steps": 20}
    values.update(fields)
    return Text2ImgRequest(**values)  # type: ignore[arg-type]


def _store(server: RedisServer, clock: ManualClock | None = None) -> RedisJobStore:
    return RedisJobStore.from_url(server.url, clock or ManualClock())


def test_a_stored_job_reads_back_as_the_sqlite_store_decodes_it(redis_server: RedisServer) -> None:
    store = _store(redis_server)
    job_id = store.add(_request(lora_model=("tiny-style",), lora_strength=(0.5,)), "k", 42, "http://h", "pending")
    job = store.get(job_id or 0)
    assert job is not None and job.state == QUEUED and job.seed == 42 and job.webhook_status == "pending"
    assert job.request.lora_model == ("tiny-style",) and job.request.model_id == "tiny-sd"
    assert job.started_at is None and job.images == [] and job.base_url == "http://h"
    assert store.get(job.id + 1) is None


def test_max_waiting_holds_for_32_concurrent_adds_from_separate_clients(redis_server: RedisServer) -> None:
    barrier = threading.Barrier(32)
    accepted: list[int | None] = []

    def add() -> None:
        store = _store(redis_server)  # its own connection, as another API process would have
        barrier.wait()
        accepted.append(store.add(_request(), "same-key", 1, "", max_waiting=3))

    threads = [threading.Thread(target=add) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len([a for a in accepted if a is not None]) == 3
    store = _store(redis_server)
    assert store.waiting("same-key") == 3 and store.waiting("other-key") == 0
    assert store.add(_request(), "other-key", 1, "", max_waiting=3) is not None


def test_a_finished_job_frees_its_place_under_max_waiting(redis_server: RedisServer) -> None:
    store = _store(redis_server)
    first = store.add(_request(), "k", 1, "", max_waiting=1)
    assert first is not None and store.add(_request(), "k", 1, "", max_waiting=1) is None
    store.fail(first, "boom", 500)
    assert store.get(first).state == FAILED  # type: ignore[union-attr]
    assert store.add(_request(), "k", 1, "", max_waiting=1) is not None


def test_only_one_worker_claims_a_job_and_a_dead_owners_job_can_be_taken_over(redis_server: RedisServer) -> None:
    store = _store(redis_server)
    job_id = store.add(_request(), "k", 1, "") or 0
    assert store.claim(job_id, "w1") is True
    assert store.claim(job_id, "w2") is False, "a running job of a live worker is not taken"
    assert store.claim(job_id, "w2", dead_owner="w3") is False, "only the job's own owner counts as dead"
    assert store.claim(job_id, "w2", dead_owner="w1") is True
    assert store.owner(job_id) == "w2" and store.get(job_id).state == RUNNING  # type: ignore[union-attr]
    store.succeed(job_id, [f"{job_id}-0.png"], [False], {"worker": "w2"}, 2.0, None)
    assert store.claim(job_id, "w1", dead_owner="w2") is False, "a finished job is never run again"


def test_finishing_twice_keeps_the_first_result(redis_server: RedisServer) -> None:
    store = _store(redis_server)
    job_id = store.add(_request(), "k", 1, "") or 0
    store.succeed(job_id, ["a.png"], [False], {"worker": "w1"}, 1.0, None)
    store.succeed(job_id, ["b.png"], [False], {"worker": "w2"}, 1.0, None)
    job = store.get(job_id)
    assert job is not None and job.state == SUCCESS and job.images == ["a.png"] and job.info["worker"] == "w1"


def test_work_until_sums_the_unfinished_costs_up_to_a_job_and_pace_follows_successes(
        redis_server: RedisServer) -> None:
    clock = ManualClock()
    store = _store(redis_server, clock)
    ids = [store.add(_request(), "k", 1, "") or 0 for _ in range(3)]  # each costs 1 unit (512x512, 20 steps)
    assert store.work_until(ids[0]) == 1.0 and store.work_until(ids[2]) == 3.0
    assert store.seconds_per_cost() is None
    store.claim(ids[0], "w1")
    clock.advance(3)
    assert store.claimed_elapsed(clock.now()) == 3.0
    store.succeed(ids[0], [], [], {}, 4.0, None)
    assert store.work_until(ids[2]) == 2.0 and store.seconds_per_cost() == 4.0
    assert store.claimed_elapsed(clock.now()) == 0.0


def test_temp_jobs_expire_and_their_images_are_cleared(redis_server: RedisServer) -> None:
    clock = ManualClock()
    store = _store(redis_server, clock)
    job_id = store.add(_request(temp=True), "k", 1, "") or 0
    store.succeed(job_id, [f"{job_id}-0.png"], [False], {}, 1.0, clock.now() + 10)
    assert store.expired(clock.now()) == []
    clock.advance(11)
    assert [(job.id, job.images) for job in store.expired(clock.now())] == [(job_id, [f"{job_id}-0.png"])]
    store.clear_images(job_id)
    assert store.expired(clock.now()) == [] and store.get(job_id).images == []  # type: ignore[union-attr]


def test_a_temp_jobs_record_expires_with_its_images_and_its_images_are_swept_after_it(
        redis_server: RedisServer) -> None:
    clock = ManualClock()
    store, raw = _store(redis_server, clock), redis_server.client()
    kept = store.add(_request(), "k", 1, "") or 0
    store.succeed(kept, ["kept.png"], [False], {}, 1.0, None)
    assert raw.pttl(f"t2i:job:{kept}") == -1, "a job whose images are kept keeps its record"
    temp = store.add(_request(temp=True), "k", 1, "") or 0
    store.succeed(temp, ["t.png"], [False], {}, 1.0, clock.now() + 100)
    assert 100_000 < raw.pttl(f"t2i:job:{temp}") <= (100 + RECORD_LINGER) * 1000
    raw.delete(f"t2i:job:{temp}")  # as if Redis expired it before any sweep
    clock.advance(101)
    assert [(job.id, job.images) for job in store.expired(clock.now())] == [(temp, ["t.png"])]
    store.clear_images(temp)
    assert not raw.exists(f"t2i:job:{temp}"), "clearing the images of a gone record does not bring it back"
    assert store.expired(clock.now()) == [] and raw.hlen("t2i:expiring_images") == 0


def test_a_finished_job_keeps_no_input_images(redis_server: RedisServer) -> None:
    store, raw = _store(redis_server), redis_server.client()
    job_id = store.add(_request(), "k", 1, "") or 0
    stored = json.loads(raw.hget(f"t2i:job:{job_id}", "request"))
    raw.hset(f"t2i:job:{job_id}", "request", json.dumps({**stored, "inputs": {"init_image": "iVBORw0KGgo="}}))
    assert store.get(job_id).inputs == {"init_image": "iVBORw0KGgo="}  # type: ignore[union-attr]
    store.succeed(job_id, ["a.png"], [False], {}, 1.0, None)
    job = store.get(job_id)
    assert job is not None and job.inputs == {} and job.request.prompt == "a lighthouse" and job.images == ["a.png"]


def test_a_stored_job_waits_in_the_outbox_until_its_message_is_confirmed_sent(redis_server: RedisServer) -> None:
    store = _store(redis_server)
    first, second = store.add(_request(), "k", 1, "") or 0, store.add(_request(), "k", 2, "") or 0
    assert store.unsent(grace=3600) == [], "an entry younger than the grace is left to its API process"
    assert store.unsent(grace=0) == [first, second]
    assert store.unsent(grace=0.5) == [], "a relayed entry is leased for another grace period"
    store.sent(first)
    store.fail(second, "boom", 500)
    assert store.unsent(grace=0) == [] and redis_server.client().zcard("t2i:outbox") == 0


def test_only_the_holder_can_finish_or_hand_back_a_job_through_a_workers_store(redis_server: RedisServer) -> None:
    w1, w2 = _store(redis_server), _store(redis_server)
    w1.worker, w2.worker = "w1", "w2"
    job_id = w1.add(_request(), "k", 1, "") or 0
    assert w1.claim(job_id, "w1")
    assert w2.release(job_id, "w2") is False
    assert w1.release(job_id, "w1") is True
    job = w1.get(job_id)
    assert job is not None and job.state == QUEUED and job.started_at is None and w1.owner(job_id) == ""
    assert w2.claim(job_id, "w2")
    w1.succeed(job_id, ["late.png"], [False], {"worker": "w1"}, 1.0, None)  # w1 woke up late: refused
    assert w1.get(job_id).state == RUNNING  # type: ignore[union-attr]
    w2.succeed(job_id, ["a.png"], [False], {"worker": "w2"}, 1.0, None)
    job = w1.get(job_id)
    assert job is not None and job.state == SUCCESS and job.images == ["a.png"]


def test_the_sqlite_stores_byte_bound_is_not_kept_in_redis_records_expire_instead(redis_server: RedisServer) -> None:
    store = _store(redis_server)
    job_id = store.add(_request(), "k", 1, "") or 0
    store.succeed(job_id, ["a.png"], [False], {}, 1.0, None, image_bytes=10_000)
    assert store.evict(0) == [] and store.get(job_id).state == SUCCESS  # type: ignore[union-attr]
