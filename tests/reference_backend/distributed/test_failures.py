"""Nothing accepted is lost (issue 13, item 3), each with real processes on the tiny model:

- a worker killed with SIGKILL mid-job: another worker runs the job to success once the
  dead worker's heartbeat is ``heartbeat_timeout`` (3 s here) old, with its images listed
  once and its webhook delivered once (the dead worker never got to send it);
- an API process killed right after accepting jobs: a second API process answers them all;
- the Redis server killed (SIGKILL, AOF with ``appendfsync always``) and started again on
  its files: every accepted job still reaches success.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from tests.reference_backend.support import KEY, text2img_body
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


def test_a_worker_stopped_with_sigterm_mid_job_leaves_nothing_undone(tiny: TinyModel, tmp_path: Path) -> None:
    with cluster(tiny, tmp_path) as running:
        api = running.api()
        workers = {name: running.worker(name) for name in ("w1", "w2")}
        ids = [submit(api, text2img_body(seed=seed, **SLOW))["id"] for seed in range(3)]
        store = running.redis.client()
        owner = wait_for(lambda: store.hget(f"t2i:job:{ids[0]}", "state") == "running"
                         and store.hget(f"t2i:job:{ids[0]}", "worker"), timeout=120, interval=0.01)
        workers[owner].process.terminate()
        assert workers[owner].process.wait(60) == 0, workers[owner].output()
        results = finished([api], ids, KEY)
        assert [results[i]["status"] for i in ids] == ["success"] * 3
        assert not store.exists(f"t2i:worker:{owner}"), "a stopped worker leaves the registry at once"
