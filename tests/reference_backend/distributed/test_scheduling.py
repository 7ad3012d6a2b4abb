"""Affinity, back-pressure and ETA across processes (issue 13, items 4 and 5).

- a job goes to the worker that has its model loaded (``meta.worker`` says which),
  and, with affinity off, workers take what comes;
- ``--max-queued`` per key holds across two API processes sending at once;
- the ETA of a processing answer counts the whole queue, shared by the live workers.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest
import requests

from t2i_contract.protocol import ManualClock
from t2i_contract.reference_backend.config import BackendConfig
from t2i_contract.reference_backend.distributed import QueueService, RedisJobStore, WorkerInfo, WorkerRegistry
from t2i_contract.reference_backend.distributed.api import RegistryCheck
from t2i_contract.reference_backend.storage import ImageStore
from t2i_contract.spec import Text2ImgRequest
from tests.reference_backend.support import API, KEY, text2img_body

from .cluster import cluster, finished, submit

if TYPE_CHECKING:
    from pathlib import Path

    from t2i_contract.reference_backend import TinyModel

    from .cluster import RedisServer


@pytest.mark.slow
def test_jobs_go_to_the_worker_that_has_their_model_loaded(tiny: TinyModel, tmp_path: Path) -> None:
    with cluster(tiny, tmp_path) as running:
        for name in ("w1", "w2"):
            running.worker(name, max_loaded_models="1", affinity_wait="60")
        api = running.api()
        first = submit(api, text2img_body(model_id="tiny-sdxl", seed=0), asynchronous=False)
        assert first["status"] == "success" and first["meta"]["model_load"] is True
        hot = first["meta"]["worker"]
        later = [submit(api, text2img_body(model_id="tiny-sdxl", seed=seed), asynchronous=False)
                 for seed in range(1, 5)]
        assert [(b["meta"]["worker"], b["meta"]["model_load"]) for b in later] == [(hot, False)] * 4


@pytest.mark.slow
def test_a_worker_with_nothing_else_to_do_waits_for_the_hot_one_no_longer_than_affinity_wait(
        tiny: TinyModel, tmp_path: Path) -> None:
    with cluster(tiny, tmp_path) as running:
        for name in ("w1", "w2"):
            running.worker(name, max_loaded_models="1", affinity_wait="0")
        api = running.api()
        hot = submit(api, text2img_body(model_id="tiny-sdxl", seed=0), asynchronous=False)["meta"]["worker"]
        ids = [submit(api, text2img_body(model_id="tiny-sdxl", seed=seed, num_inference_steps=10))["id"]
               for seed in range(1, 7)]
        results = finished([api], ids, KEY)
        cold = [results[i] for i in ids if results[i]["meta"]["worker"] != hot]
        assert cold, "with no wait, the worker without the model took some of the hot model's jobs"
        assert all(body["meta"]["model_load"] for body in cold[:1])


def test_max_queued_holds_across_two_api_processes(tiny: TinyModel, tmp_path: Path) -> None:
    with cluster(tiny, tmp_path) as running:
        apis = [running.api("api-a", max_queued="3"), running.api("api-b", max_queued="3")]
        # a live worker that takes nothing: the registry entry alone, so accepted jobs stay queued
        WorkerRegistry(running.redis.client(), "t2i").publish(WorkerInfo("idle", ["tiny-sd"]), ttl=600)
        barrier = threading.Barrier(16)
        statuses: list[int] = []

        def send(index: int) -> None:
            barrier.wait()
            response = requests.post(f"{apis[index % 2].url}{API}/text2img", json=text2img_body(seed=index),
                                     headers={"Prefer": "respond-async"}, timeout=60)
            statuses.append(response.status_code)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses) == [200] * 3 + [429] * 13
        other = requests.post(f"{apis[0].url}{API}/text2img", json=text2img_body(key="another-key"),
                              headers={"Prefer": "respond-async"}, timeout=60)
        assert other.status_code == 200, "the limit is per key"


def _service(server: RedisServer, clock: ManualClock, tmp_path: Path) -> tuple[QueueService, WorkerRegistry]:
    store = RedisJobStore.from_url(server.url, clock)
    registry = WorkerRegistry(store.client, store.ns)
    config = BackendConfig(queue=server.url, data_dir=tmp_path)
    service = QueueService(config, RegistryCheck(registry), store, ImageStore(tmp_path / "images"), broker=None,
                           registry=registry, clock=clock)
    return service, registry


def test_the_eta_counts_the_whole_queue_and_divides_it_by_the_live_workers(
        redis_server: RedisServer, tmp_path: Path) -> None:
    clock = ManualClock()
    service, registry = _service(redis_server, clock, tmp_path)
    request = Text2ImgRequest(key=KEY, model_id="tiny-sd", prompt="p", width=512, height=512,
                              num_inference_steps=20)
    ids = [service.store.add(request, KEY, 1, "") for _ in range(4)]  # one unit of cost each
    service.store.claim(ids[0], "w1")  # type: ignore[arg-type]
    service.store.succeed(ids[0], [], [], {}, 2.0, None)  # type: ignore[arg-type]  # pace: 2 s per unit
    last = service.store.get(ids[-1])  # type: ignore[arg-type]
    assert last is not None
    registry.publish(WorkerInfo("w1", ["tiny-sd"]), ttl=600)
    one = service.eta(last)
    registry.publish(WorkerInfo("w2", ["tiny-sd"], threads=3), ttl=600)
    four = service.eta(last)
    assert one == 6.0, "three jobs of one unit at 2 s each, one worker"
    assert four == 1.5, "the same queue over four worker threads"


def test_a_job_the_queue_refused_is_failed_and_frees_its_place(redis_server: RedisServer, tmp_path: Path) -> None:
    import pytest
    import redis

    from t2i_contract.reference_backend.distributed.broker import make_broker
    from tests.support import free_port

    clock = ManualClock()
    service, registry = _service(redis_server, clock, tmp_path)
    service.broker = make_broker(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    service.config.max_queued = 1
    registry.publish(WorkerInfo("w1", ["tiny-sd"]), ttl=600)
    request = Text2ImgRequest(key=KEY, model_id="tiny-sd", prompt="p")
    with pytest.raises(redis.ConnectionError):
        service.enqueue(request, "")
    assert service.store.waiting(KEY) == 0
    assert service.store.get(1).state == "failed"  # type: ignore[union-attr]
