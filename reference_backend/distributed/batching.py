"""Batching on a worker (``--max-batch``, ``--batch-wait``): queued jobs that can share one pipeline call run as one.

When a worker claims a job its generator can batch (``Generator.batch_key``: same
model, family, size, steps, scheduler, guidance, LoRA set and so on; prompts and
seeds may differ), :func:`gather` claims more queued jobs with the same key, up to
``max_batch`` in all, looking again until ``batch_wait`` ms have passed while the
batch is not full. Their own queue messages stay in the queue: by the time one is
delivered, its job is running here (another worker leaves it alone) or finished
(dropped).

:class:`BatchingGenerator` then lets the service run each job as usual
(``JobService._run``: upscale, save, record, webhook, per job): the first job's
``generate`` runs the whole batch with ``generate_batch`` and keeps the other
results, which the other jobs' ``generate`` calls return at once. A batch that
fails is run again one request at a time, so one bad request fails only its job.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..generator import GenerationResult, Generator

if TYPE_CHECKING:
    from ..jobs import Job
    from .store import RedisJobStore

__all__ = ["BATCH_POLL", "BatchingGenerator", "gather"]

log = logging.getLogger(__name__)
BATCH_POLL = 0.02
"""Seconds between looks at the queue while a batch waits for more jobs."""
CANDIDATES = 64
"""Queued jobs looked at per look, oldest first."""


def _key(request: Any, seed: int) -> str:
    return json.dumps([request.OPERATION, request.to_meta(), dict(request.extra), seed], sort_keys=True, default=str)


def gather(first: Job, generator: Generator, store: RedisJobStore, worker: str, *, max_batch: int,
           batch_wait: float, stop: threading.Event) -> list[Job]:
    """Queued jobs claimed (for ``worker``) to run in one call with ``first``, at most ``max_batch - 1``."""
    if max_batch <= 1:
        return []
    key = generator.batch_key(first.request)
    if key is None:
        return []
    members: list[Job] = []
    taken = {first.id}
    deadline = time.monotonic() + batch_wait / 1000
    while True:
        for job in store.queued(CANDIDATES):
            if len(members) + 1 >= max_batch:
                return members
            if job.id in taken or generator.batch_key(job.request) != key:
                continue
            taken.add(job.id)
            if store.claim(job.id, worker):
                members.append(job)
        if len(members) + 1 >= max_batch or time.monotonic() >= deadline or stop.wait(BATCH_POLL):
            return members


@dataclass
class _Batch:
    items: list[tuple[Any, int]]
    results: dict[str, list[GenerationResult]] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class BatchingGenerator(Generator):
    """The worker service's generator: a request primed into a batch is made with the whole batch, once."""

    def __init__(self, inner: Generator) -> None:
        self.inner = inner
        self._batches: dict[str, _Batch] = {}
        self._lock = threading.Lock()

    def prime(self, items: list[tuple[Any, int]]) -> None:
        batch = _Batch(items)
        with self._lock:
            for request, seed in items:
                self._batches[_key(request, seed)] = batch

    def forget(self, items: list[tuple[Any, int]]) -> None:
        with self._lock:
            for request, seed in items:
                self._batches.pop(_key(request, seed), None)

    def generate(self, request: Any, seed: int, *inputs: Any) -> GenerationResult:
        key = _key(request, seed)
        with self._lock:
            batch = self._batches.get(key)
        if batch is None:
            return self.inner.generate(request, seed, *inputs)
        with batch.lock:
            if batch.results is None:
                batch.results = self._run(batch.items)
            made = batch.results.get(key)
            if made:
                return made.pop(0)
        return self.inner.generate(request, seed, *inputs)  # the batch failed: alone

    def _run(self, items: list[tuple[Any, int]]) -> dict[str, list[GenerationResult]]:
        try:
            made = self.inner.generate_batch(items)
        except Exception:
            log.warning("a batch of %d failed; running its requests one at a time", len(items), exc_info=True)
            return {}
        results: dict[str, list[GenerationResult]] = {}
        for (request, seed), result in zip(items, made):
            results.setdefault(_key(request, seed), []).append(result)
        return results

    def batch_key(self, request: Any) -> str | None:
        return self.inner.batch_key(request)

    def check(self, request: Any, *inputs: Any) -> None:
        self.inner.check(request, *inputs)

    def close(self) -> None:
        self.inner.close()

