"""Nothing accepted is lost (issue 13, item 3), each with real processes on the tiny model:

- a worker killed with SIGKILL mid-job: another worker runs the job to success once the
  dead worker's heartbeat is ``heartbeat_timeout`` (3 s here) old, with its images listed
  once and its webhook delivered once (the dead worker never got to send it);
- an API process killed right after accepting jobs: a second API process answers them all;
- the Redis server killed (SIGKILL, AOF with ``appendfsync always``) and started again on
  its files: every accepted job still reaches success;
- Redis down: text2img and fetch answer 503 with ``Retry-After`` in the spec's error
  shape, and everything resumes when it is back, the running job's webhook sent once;
- a job stored by an API process that died before sending its queue message (the
  outbox, issue 20 item 2) is still run, and an API process killed during a flood of
  submissions leaves every stored job run and its key's ``--max-queued`` free.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest
import requests

from t2i_contract.reference_backend.distributed import RedisJobStore
from t2i_contract.reference_backend.distributed.broker import DEFAULT_HEARTBEAT_TIMEOUT
from t2i_contract.spec import Text2ImgRequest
from tests.reference_backend.support import API, KEY, text2img_body
from tests.support import WebhookListener, wait_for

from .cluster import cluster, finished, submit

if TYPE_CHECKING:
    from pathlib import Path

    from t2i_contract.reference_backend import TinyModel

SLOW = {"num_inference_steps": 40}
"""Long enough on the tiny model to be caught running."""


def test_a_worker_killed_mid_job_leaves_it_to_another_worker(tiny: TinyModel, tmp_path: Path) -> None:
    with WebhookListener() as hooks, cluster(tiny, tmp_path, heartbeat_timeout=3.0) as running:
        api = running.api()
        workers = {name: running.worker(name) for name in ("w1", "w2")}
        job_id = submit(api, text2img_body(webhook=hooks.url, samples=2, **SLOW))["id"]
        store = running.redis.client()
        owner = wait_for(lambda: store.hget(f"t2i:job:{job_id}", "state") == "running"
                         and store.hget(f"t2i:job:{job_id}", "worker"), timeout=120, interval=0.01)
        survivor = ({"w1", "w2"} - {owner}).pop()
        workers[owner].process.kill()

        result = finished([api], [job_id], KEY)[job_id]
        assert result["status"] == "success" and result["meta"]["worker"] == survivor, result
        assert len(result["proxy_links"]) == 2
        assert sorted(p.name for p in (running.data / "images").glob("*.png")) == sorted(
            link.rsplit("/", 1)[1] for link in result["proxy_links"])
        received = hooks.wait(1, timeout=120)
        wait_for(lambda: store.hget(f"t2i:job:{job_id}", "webhook_status").startswith("delivered"), timeout=60)
        assert [r["json"]["id"] for r in hooks.received] == [job_id], received
        assert f"left running by dead worker {owner}" in workers[survivor].output()


def test_jobs_accepted_by_an_api_process_killed_at_once_are_all_answered_by_another(
        tiny: TinyModel, tmp_path: Path) -> None:
    with cluster(tiny, tmp_path) as running:
        running.worker("w1")
        doomed = running.api("doomed")
        ids = [submit(doomed, text2img_body(seed=seed, **SLOW))["id"] for seed in range(6)]
        doomed.process.kill()
        store = running.redis.client()
        assert sum(store.hget(f"t2i:job:{i}", "state") == "success" for i in ids) < 6, "killed with jobs queued"
        other = running.api("other")
        results = finished([other], ids, KEY)
        assert [results[i]["status"] for i in ids] == ["success"] * 6


@pytest.mark.slow
def test_a_redis_restart_loses_no_accepted_job(tiny: TinyModel, tmp_path: Path) -> None:
    with cluster(tiny, tmp_path) as running:
        api = running.api()
        running.worker("w1")
        ids = [submit(api, text2img_body(seed=seed, **SLOW))["id"] for seed in range(4)]
        store = running.redis.client()
        wait_for(lambda: store.hget(f"t2i:job:{ids[0]}", "state") == "running", timeout=120, interval=0.01)
        assert store.hget(f"t2i:job:{ids[-1]}", "state") == "queued"
        running.redis.kill()
        running.redis.start()
        results = finished([api], ids, KEY)
        assert [results[i]["status"] for i in ids] == ["success"] * 4, results
        assert [results[i]["meta"]["seed"] for i in ids] == list(range(4))


def test_a_job_stored_by_an_api_process_that_died_before_queueing_it_is_run(tiny: TinyModel, tmp_path: Path) -> None:
    with cluster(tiny, tmp_path) as running:
        running.worker("w1")
        store = RedisJobStore.from_url(running.redis.url)
        request = Text2ImgRequest(key=KEY, model_id="tiny-sd", prompt="orphan", width=256, height=256,
                                  num_inference_steps=2, seed=7)
        # exactly what an API process has written when it is killed before sending the message
        job_id = store.add(request, KEY, 7, "http://127.0.0.1", max_waiting=1) or 0
        assert store.add(request, KEY, 8, "", max_waiting=1) is None, "it holds the key's one place meanwhile"
        wait_for(lambda: store.get(job_id).state == "success", timeout=120, interval=0.05)  # type: ignore[union-attr]
        assert store.waiting(KEY) == 0 and store.unsent(0) == []
        assert store.add(request, KEY, 8, "", max_waiting=1) is not None, "the key is free again"
        store.close()


@pytest.mark.slow
def test_an_api_process_killed_mid_flood_leaves_every_stored_job_run_and_no_key_blocked(
        tiny: TinyModel, tmp_path: Path) -> None:
    # No worker dies here, so the worker's heartbeat gets the default timeout, not the cluster's 3 s: with
    # twelve threads flooding the API on a busy 2-core machine, a heartbeat a few seconds late took the only
    # worker out of the registry, and the API rightly answered 503 (no live worker) to a few calls
    with cluster(tiny, tmp_path, heartbeat_timeout=DEFAULT_HEARTBEAT_TIMEOUT) as running:
        running.worker("w1")
        doomed = running.api("doomed", max_queued="4")
        answers: list[int] = []
        stop = threading.Event()

        def flood(thread: int) -> None:
            for n in range(10_000):
                if stop.is_set():
                    return
                body = text2img_body(seed=thread * 10_000 + n, num_inference_steps=2)
                try:
                    answers.append(requests.post(f"{doomed.url}{API}/text2img", json=body, timeout=60,
                                                 headers={"Prefer": "respond-async"}).status_code)
                except requests.RequestException:
                    return

        threads = [threading.Thread(target=flood, args=(index,)) for index in range(12)]
        for thread in threads:
            thread.start()
        try:
            wait_for(lambda: answers.count(200) >= 8, timeout=120)
            doomed.process.kill()
        finally:
            stop.set()
            for thread in threads:
                thread.join(120)
        assert set(answers) <= {200, 429}, answers
        store = RedisJobStore.from_url(running.redis.url)
        stored = range(1, int(store.client.get("t2i:next_id")) + 1)
        assert len(stored) >= answers.count(200)
        wait_for(lambda: all(store.get(i).finished for i in stored),  # type: ignore[union-attr]
                 timeout=300, interval=0.1)
        assert all(store.get(i).state == "success" for i in stored)  # type: ignore[union-attr]
        assert store.waiting(KEY) == 0 and store.client.zcard("t2i:outbox") == 0
        other = running.api("other", max_queued="4")
        assert [submit(other, text2img_body(seed=seed))["status"] for seed in range(4)] == ["processing"] * 4
        store.close()


def test_while_redis_is_down_the_api_answers_503_with_retry_after_and_resumes_after(
        tiny: TinyModel, tmp_path: Path) -> None:
    with WebhookListener() as hooks, cluster(tiny, tmp_path) as running:
        api = running.api(retry_after="7")
        running.worker("w1")
        job_id = submit(api, text2img_body(webhook=hooks.url, **SLOW))["id"]
        store = running.redis.client()
        wait_for(lambda: store.hget(f"t2i:job:{job_id}", "state") == "running", timeout=120, interval=0.01)
        running.redis.kill()
        for response in (requests.post(f"{api.url}{API}/text2img", json=text2img_body(), timeout=120),
                         requests.post(f"{api.url}{API}/fetch/{job_id}", json={"key": KEY}, timeout=120)):
            assert response.status_code == 503, response.text
            assert response.headers["Retry-After"] == "7"
            body = response.json()
            assert body["status"] == "error" and body["retry_after"] == 7, body
            assert body["errors"][0]["rule"] == "queue_unavailable" and "queue cannot be reached" in body["message"]
        running.redis.start()
        later = submit(api, text2img_body(seed=5))["id"]
        results = finished([api], [job_id, later], KEY)
        assert [results[i]["status"] for i in (job_id, later)] == ["success", "success"], results
        hooks.wait(1, timeout=120)
        wait_for(lambda: store.hget(f"t2i:job:{job_id}", "webhook_status").startswith("delivered"), timeout=120)
        assert [r["json"]["id"] for r in hooks.received] == [job_id]
