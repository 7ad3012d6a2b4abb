"""SIGTERM stops a worker gracefully (issue 20, item 4), with real processes on the tiny model:

- within ``--shutdown-timeout`` the running job finishes on the worker that had it, its
  webhook is delivered once, and the worker exits 0;
- past it, the job goes back to the queue at once (not after the heartbeat timeout:
  the other worker does not find it "left running by a dead worker"), the worker
  still exits 0, and nothing aborts (no ``terminate called``, no signal exit status).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from tests.reference_backend.support import KEY, text2img_body
from tests.support import WebhookListener, wait_for

from .cluster import cluster, finished, submit

if TYPE_CHECKING:
    from pathlib import Path

    import redis

    from t2i_contract.reference_backend import TinyModel

LONG = {"num_inference_steps": 60}
"""Long enough on the tiny model to be caught running."""


def _running_on(store: redis.Redis, job_id: int) -> str | None:
    fields = store.hgetall(f"t2i:job:{job_id}")
    return fields.get("worker") if fields.get("state") == "running" else None


def test_sigterm_lets_the_running_job_finish_and_the_worker_exits_0(tiny: TinyModel, tmp_path: Path) -> None:
    with WebhookListener() as hooks, cluster(tiny, tmp_path) as running:
        api = running.api()
        worker = running.worker("w1")
        job_id = submit(api, text2img_body(webhook=hooks.url, **LONG))["id"]
        store = running.redis.client()
        wait_for(lambda: _running_on(store, job_id) == "w1", timeout=120, interval=0.01)
        worker.process.terminate()
        assert worker.process.wait(300) == 0, worker.output()
        job = store.hgetall(f"t2i:job:{job_id}")
        assert job["state"] == "success" and job["worker"] == "w1", job
        assert job["webhook_status"].startswith("delivered"), job
        assert [r["json"]["id"] for r in hooks.received] == [job_id]
        assert "terminate called" not in worker.output()
        assert not store.exists("t2i:worker:w1"), "a stopped worker leaves the registry"


def test_a_job_longer_than_the_shutdown_timeout_is_handed_back_at_once(tiny: TinyModel, tmp_path: Path) -> None:
    with cluster(tiny, tmp_path, heartbeat_timeout=3.0) as running:
        api = running.api()
        workers = {name: running.worker(name, shutdown_timeout="0") for name in ("w1", "w2")}
        job_id = submit(api, text2img_body(num_inference_steps=150))["id"]
        store = running.redis.client()
        owner = wait_for(lambda: _running_on(store, job_id), timeout=120, interval=0.01)
        survivor = ({"w1", "w2"} - {owner}).pop()
        workers[owner].process.terminate()
        assert workers[owner].process.wait(120) == 0, workers[owner].output()
        assert f"job {job_id} still running after the shutdown timeout: handed back" in workers[owner].output()
        assert "terminate called" not in workers[owner].output()
        result = finished([api], [job_id], KEY)[job_id]
        assert result["status"] == "success" and result["meta"]["worker"] == survivor, result
        assert "left running by dead worker" not in workers[survivor].output(), "handed back, not found dead"
