"""Which generation workers are alive, what each can serve, and what each has loaded.

Every ``t2i worker`` writes one key ``<ns>:worker:<name>`` (JSON) with a time to
live: the models, LoRAs, VAEs and IP-Adapters it can serve, the models it has loaded with their LoRAs,
and how many jobs it is running. It rewrites the key on a heartbeat well inside the
TTL, so a worker that dies drops out of :meth:`WorkerRegistry.live` within one TTL.
API processes read the registry to refuse a job no live worker can serve and to
divide the queue's ETA by the number of live workers; workers read it for affinity.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["WorkerInfo", "WorkerRegistry"]


@dataclass
class WorkerInfo:
    """What one worker says about itself."""

    name: str
    models: list[str] = field(default_factory=list)
    loras: list[str] = field(default_factory=list)
    loaded: dict[str, list[str]] = field(default_factory=dict)
    """model id -> the LoRA ids loaded on that pipeline"""
    busy: int = 0
    threads: int = 1
    vaes: list[str] = field(default_factory=list)
    ip_adapters: list[str] = field(default_factory=list)

    def has_loaded(self, model_id: str, loras: tuple[str, ...] = ()) -> bool:
        return model_id in self.loaded and set(loras) <= set(self.loaded[model_id])


class WorkerRegistry:
    def __init__(self, client: Any, namespace: str) -> None:
        self.client = client
        self.ns = namespace

    def _key(self, name: str) -> str:
        return f"{self.ns}:worker:{name}"

    def publish(self, info: WorkerInfo, ttl: float) -> None:
        """Say ``info`` is alive for ``ttl`` seconds."""
        pipe = self.client.pipeline()
        pipe.set(self._key(info.name), json.dumps(asdict(info)), px=max(1, int(ttl * 1000)))
        pipe.sadd(f"{self.ns}:workers", info.name)
        if info.models:
            pipe.sadd(f"{self.ns}:models", *info.models)
        pipe.execute()

    def withdraw(self, name: str) -> None:
        self.client.delete(self._key(name))
        self.client.srem(f"{self.ns}:workers", name)

    def live(self) -> list[WorkerInfo]:
        names = sorted(self.client.smembers(f"{self.ns}:workers"))
        if not names:
            return []
        values = self.client.mget([self._key(name) for name in names])
        gone = [name for name, value in zip(names, values) if value is None]
        if gone:
            self.client.srem(f"{self.ns}:workers", *gone)
        return [WorkerInfo(**json.loads(value)) for value in values if value is not None]

    def ever_registered(self) -> bool:
        """Has any worker ever registered with this queue (its models are remembered)?"""
        return bool(self.client.exists(f"{self.ns}:models"))

    def known_models(self) -> set[str]:
        """Every model id a worker has ever said it serves."""
        return set(self.client.smembers(f"{self.ns}:models"))

    def alive(self, name: str) -> bool:
        return bool(name) and bool(self.client.exists(self._key(name)))
