"""An API process of the distributed mode (``t2i serve --queue``) as a load balancer sees it (issue 21, items 3
and 8): ``/readyz`` follows Redis, ``/healthz`` only the process, and a model no worker serves is named."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from tests.reference_backend.support import API
from tests.support import wait_for

from .cluster import cluster

TIMEOUT = 120.0  # a guard against a hung process, never a claim about speed


def _readyz(url: str, status: int) -> dict[str, Any] | None:
    answer = requests.get(url + "/readyz", timeout=TIMEOUT)
    return answer.json() if answer.status_code == status else None


def test_an_api_process_is_ready_while_redis_answers_and_says_which_probe_fails(tmp_path: Path) -> None:
    with cluster(None, tmp_path) as running:  # no worker: an API process loads no model
        api = running.api()
        ready = requests.get(api.url + "/readyz", timeout=TIMEOUT)
        running.redis.kill()
        unready = wait_for(lambda: _readyz(api.url, 503), timeout=TIMEOUT, interval=0.1)
        live = requests.get(api.url + "/healthz", timeout=TIMEOUT)
        running.redis.start()  # the same port and files: redis-py reconnects by itself
        again = wait_for(lambda: _readyz(api.url, 200), timeout=TIMEOUT, interval=0.1)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"queue": "ok", "images": "ok", "threads": "ok"}
    assert unready["failing"] == ["queue"] and unready["status"] == "not ready"
    assert unready["checks"]["queue"].startswith("the job queue (Redis) does not answer: ConnectionError")
    assert unready["checks"]["images"] == "ok"
    assert live.status_code == 200 and live.json()["status"] == "ok"
    assert again["checks"]["queue"] == "ok"


def test_before_any_worker_registers_a_generation_is_told_no_worker_serves_its_model(tmp_path: Path) -> None:
    with cluster(None, tmp_path) as running:
        api = running.api()
        answer = requests.post(f"{api.url}{API}/text2img", json={"key": "k", "model_id": "tiny-sd", "prompt": "p"},
                               headers={"Prefer": "respond-async"}, timeout=TIMEOUT)
    body = answer.json()
    assert answer.status_code == 503 and "Retry-After" in answer.headers, answer.text
    assert body["status"] == "error" and body["errors"][0]["field"] == "model_id"
    assert body["errors"][0]["value"] == "tiny-sd" and body["errors"][0]["rule"] == "live_worker"
    assert body["message"].startswith("No worker serves model tiny-sd: no t2i worker has registered with this "
                                      "queue yet")


def test_an_api_process_lists_what_its_live_workers_serve(tmp_path: Path) -> None:
    from t2i_contract.reference_backend.distributed import WorkerInfo, WorkerRegistry

    with cluster(None, tmp_path) as running:
        api = running.api()
        before = requests.get(api.url + "/models", timeout=TIMEOUT).json()
        WorkerRegistry(running.redis.client(), "t2i").publish(
            WorkerInfo("w1", ["tiny-sdxl", "tiny-sd"], ["tiny-style"]), ttl=600)
        after = requests.get(api.url + "/models", timeout=TIMEOUT).json()
    assert (before["models"], before["loras"]) == ([], [])
    assert (after["models"], after["loras"], after["vaes"]) == (["tiny-sd", "tiny-sdxl"], ["tiny-style"], [])
