"""The worker registry and the API process's check: what no live worker can serve is refused, clearly."""
from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from t2i_contract.reference_backend.distributed import NoLiveWorker, WorkerInfo, WorkerRegistry
from t2i_contract.reference_backend.distributed.api import RegistryCheck
from t2i_contract.reference_backend.errors import NotFoundError
from t2i_contract.spec import Text2ImgRequest
from tests.support import wait_for

if TYPE_CHECKING:
    from .cluster import RedisServer


def _registry(server: RedisServer) -> WorkerRegistry:
    return WorkerRegistry(server.client(), "t2i")


def _request(model_id: str = "tiny-sd", loras: tuple[str, ...] = ()) -> Text2ImgRequest:
    return Text2ImgRequest(key="k", model_id=model_id, prompt="p", lora_model=loras,
                           lora_strength=tuple(0.5 for _ in loras))


def test_a_worker_drops_out_of_the_registry_when_its_heartbeat_stops(redis_server: RedisServer) -> None:
    registry = _registry(redis_server)
    registry.publish(WorkerInfo("short", ["tiny-sd"]), ttl=0.3)
    registry.publish(WorkerInfo("long", ["tiny-sdxl"]), ttl=600)
    assert {w.name for w in registry.live()} == {"short", "long"} and registry.alive("short")
    wait_for(lambda: not registry.alive("short"), timeout=30)
    assert [w.name for w in registry.live()] == ["long"]


def test_loaded_models_and_loras_are_what_affinity_compares() -> None:
    info = WorkerInfo("w", ["tiny-sd"], loaded={"tiny-sd": ["tiny-style"]})
    assert info.has_loaded("tiny-sd") and info.has_loaded("tiny-sd", ("tiny-style",))
    assert not info.has_loaded("tiny-sd", ("tiny-kohya",)) and not info.has_loaded("tiny-sdxl")


def test_a_model_no_live_worker_serves_is_a_503_naming_it(redis_server: RedisServer) -> None:
    registry = _registry(redis_server)
    check = RegistryCheck(registry)
    registry.publish(WorkerInfo("gone", ["tiny-sdxl"]), ttl=600)
    registry.withdraw("gone")
    registry.publish(WorkerInfo("w1", ["tiny-sd"], ["tiny-style"]), ttl=600)
    check.check(_request("tiny-sd", ("tiny-style",)))
    with pytest.raises(NoLiveWorker) as refused:
        check.check(_request("tiny-sdxl"))
    assert refused.value.status == 503 and refused.value.field == "model_id" and refused.value.value == "tiny-sdxl"
    assert "No live worker serves model tiny-sdxl" in refused.value.message and "tiny-sd" in refused.value.message


def test_a_model_or_lora_no_worker_ever_served_is_a_404(redis_server: RedisServer) -> None:
    registry = _registry(redis_server)
    registry.publish(WorkerInfo("w1", ["tiny-sd"], ["tiny-style"]), ttl=600)
    check = RegistryCheck(registry)
    with pytest.raises(NotFoundError) as model:
        check.check(_request("no-such-model"))
    assert model.value.status == 404 and model.value.field == "model_id"
    with pytest.raises(NotFoundError) as lora:
        check.check(_request("tiny-sd", ("no-such-lora",)))
    assert lora.value.field == "lora_model" and lora.value.value == "no-such-lora"


def test_with_no_live_worker_at_all_every_model_is_refused(redis_server: RedisServer) -> None:
    registry = _registry(redis_server)
    registry.publish(WorkerInfo("w1", ["tiny-sd"]), ttl=600)
    registry.withdraw("w1")
    with pytest.raises(NoLiveWorker) as refused:
        RegistryCheck(registry).check(_request("tiny-sd"))
    assert "0 live worker(s) serve nothing" in refused.value.message


def test_a_vae_or_ip_adapter_no_live_worker_with_the_model_has_is_a_404_even_without_model_files(
        redis_server: RedisServer) -> None:
    registry = _registry(redis_server)
    registry.publish(WorkerInfo("w1", ["tiny-sd"], vaes=["tiny-vae"]), ttl=600)
    registry.publish(WorkerInfo("w2", ["tiny-sdxl"], ip_adapters=["tiny-ip"]), ttl=600)
    check = RegistryCheck(registry)  # an API process given no --models
    check.check(Text2ImgRequest(key="k", model_id="tiny-sd", prompt="p", vae="tiny-vae"))
    check.check(Text2ImgRequest(key="k", model_id="tiny-sdxl", prompt="p", ip_adapter_id="tiny-ip"))
    with pytest.raises(NotFoundError) as vae:
        check.check(Text2ImgRequest(key="k", model_id="tiny-sdxl", prompt="p", vae="tiny-vae"))
    assert vae.value.field == "vae" and vae.value.value == "tiny-vae" and "VAE not found" in vae.value.message
    with pytest.raises(NotFoundError) as adapter:
        check.check(Text2ImgRequest(key="k", model_id="tiny-sd", prompt="p", ip_adapter_id="tiny-ip"))
    assert adapter.value.field == "ip_adapter_id" and adapter.value.value == "tiny-ip"


def test_before_any_worker_registers_every_model_is_a_503_saying_so(redis_server: RedisServer) -> None:
    registry = _registry(redis_server)
    check = RegistryCheck(registry, retry_after=7)
    assert not registry.ever_registered()
    with pytest.raises(NoLiveWorker) as refused:
        check.check(_request("anything"))
    assert refused.value.status == 503 and refused.value.value == "anything"
    assert refused.value.headers == {"Retry-After": "7"}
    assert "no t2i worker has registered with this queue yet" in refused.value.message
    registry.publish(WorkerInfo("w1", ["tiny-sd"]), ttl=600)
    assert registry.ever_registered()
    check.check(_request("tiny-sd"))


def test_a_model_no_worker_serves_while_others_are_live_is_a_404_naming_what_they_serve(
        redis_server: RedisServer) -> None:
    registry = _registry(redis_server)
    registry.publish(WorkerInfo("w1", ["tiny-sd", "tiny-sdxl"]), ttl=600)
    with pytest.raises(NotFoundError) as refused:
        RegistryCheck(registry).check(_request("f222-diffusion"))
    assert refused.value.status == 404 and refused.value.value == "f222-diffusion"
    assert refused.value.message == ("Model not found: f222-diffusion: no worker serves it (the 1 live worker(s) "
                                     "serve tiny-sd, tiny-sdxl)")
