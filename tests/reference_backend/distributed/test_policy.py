"""One policy for the cluster (issue 20, item 3): decided once in Redis by the API processes, followed by workers.

- the first API process writes its policy; one started with other values refuses to
  start, naming each difference and how to change the policy;
- a worker started with no URL flags posts webhooks under the cluster's policy: an
  API process that allows 127.0.0.1 has its webhook delivered by a worker that was
  told nothing (before, the worker refused it: ``retrying ... UrlRefused``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from t2i_contract.reference_backend import BackendConfig
from t2i_contract.reference_backend.distributed.policy import ClusterPolicy, PolicyMismatch, PolicyReader, agree
from t2i_contract.reference_backend.serving import preflight
from tests.reference_backend.support import KEY, text2img_body
from tests.support import WebhookListener, wait_for

from .cluster import cluster, finished, submit

if TYPE_CHECKING:
    from pathlib import Path

    from t2i_contract.reference_backend import TinyModel

    from .cluster import RedisServer


def _policy(**settings: object) -> ClusterPolicy:
    return ClusterPolicy.from_config(BackendConfig(**settings))  # type: ignore[arg-type]


def test_the_first_api_process_decides_the_policy_and_a_different_one_is_refused(redis_server: RedisServer) -> None:
    client = redis_server.client()
    first = _policy(url_allow=("127.0.0.1",), max_queued=3)
    assert agree(client, "t2i", first) == first
    assert agree(client, "t2i", _policy(url_allow=("127.0.0.1",), max_queued=3)) == first
    with pytest.raises(PolicyMismatch) as refused:
        agree(client, "t2i", _policy(max_queued=5))
    message = refused.value.message
    assert "--url-allow ('127.0.0.1',) (this process: ())" in message and "--max-queued 3 (this process: 5)" in message
    assert "--retry-after" not in message and "redis-cli DEL t2i:policy" in message
    reader = PolicyReader(client, "t2i", _policy())
    assert reader.current.url_allow == () and reader.refresh() == first


def test_t2i_serve_started_with_another_policy_says_so_before_serving(redis_server: RedisServer,
                                                                      tmp_path: Path) -> None:
    agree(redis_server.client(), "t2i", _policy(max_queued=3))
    with pytest.raises(PolicyMismatch) as refused:  # what t2i serve runs before granian starts
        preflight(BackendConfig(queue=redis_server.url, data_dir=tmp_path, max_queued=4))
    assert "--max-queued 3 (this process: 4)" in refused.value.message
    preflight(BackendConfig(queue=redis_server.url, data_dir=tmp_path, max_queued=3))


def test_a_worker_told_nothing_delivers_a_webhook_the_api_process_allowed(tiny: TinyModel, tmp_path: Path) -> None:
    with WebhookListener() as hooks, cluster(tiny, tmp_path) as running:
        api = running.api(private_urls="deny", url_allow="127.0.0.1")
        running.worker("w1")
        job_id = submit(api, text2img_body(webhook=hooks.url))["id"]
        assert finished([api], [job_id], KEY)[job_id]["status"] == "success"
        store = running.redis.client()
        status = wait_for(lambda: (store.hget(f"t2i:job:{job_id}", "webhook_status") or "pending") != "pending"
                          and store.hget(f"t2i:job:{job_id}", "webhook_status"), timeout=120)
        assert status.startswith("delivered"), status
        assert [r["json"]["id"] for r in hooks.received] == [job_id]
