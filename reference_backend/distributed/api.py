"""The API process of the distributed mode: accept, validate, enqueue, answer; load no model.

``t2i serve --queue redis://...`` builds :func:`queue_service` instead of the
embedded service. It is the same :class:`~reference_backend.service.JobService`
(answers, views, fetch, waiting for a sync answer) over the shared
:class:`~.store.RedisJobStore`, with three differences:

- ``enqueue`` sends the job to the queue after storing it; the client gets its id
  only once both are done, so a job the client was told about is never lost;
- the generator only checks: against the live workers' registry (a model no live
  worker serves is a 503 naming it; one no worker ever served a 404), then, when the
  API process was given ``--models`` too, against the files, without loading them;
- ``eta`` divides the queued work by the number of live workers' threads.

Nothing runs in the background here: workers run jobs and send webhooks.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from t2i_contract.protocol import Clock, InternalError, SystemClock

from ..errors import BackendError, GenerationError, NotFoundError
from ..generator import Generator
from ..service import DEFAULT_ETA, INTERNAL_ERROR, MIN_ETA, JobService
from ..storage import ImageStore
from .broker import make_broker, send
from .registry import WorkerRegistry
from .store import RedisJobStore

if TYPE_CHECKING:
    from ..config import BackendConfig
    from ..jobs import Job

__all__ = ["NoLiveWorker", "QueueService", "RegistryCheck", "queue_service"]

SYNC_POLL = 0.1


class NoLiveWorker(BackendError):
    """503: no live worker can serve the request now (Retry-After says when to ask again)."""

    code = "no_live_worker"
    status = 503


class RegistryCheck(Generator):
    """The API process's generator: refuses what no live worker can run, generates nothing."""

    def __init__(self, registry: WorkerRegistry, files: Generator | None = None) -> None:
        self.registry = registry
        self.files = files

    def check(self, request: Any, *inputs: Any) -> None:
        if self.files is not None:
            self.files.check(request, *inputs)
        live = self.registry.live()
        serving = [w for w in live if request.model_id in w.models]
        if not serving:
            served = sorted({m for w in live for m in w.models})
            if request.model_id not in self.registry.known_models():
                raise NotFoundError(f"Model not found: {request.model_id}", field="model_id",
                                    value=request.model_id, rule="exists")
            raise NoLiveWorker(
                f"No live worker serves model {request.model_id} now ({len(live)} live worker(s) serve "
                f"{', '.join(served) or 'nothing'}); start a t2i worker whose --models has it",
                field="model_id", value=request.model_id, rule="live_worker")
        for lora_id in request.lora_model:
            if not any(lora_id in w.loras for w in serving):
                raise NotFoundError(f"LoRA not found: {lora_id} (no live worker serving {request.model_id} has it)",
                                    field="lora_model", value=lora_id, rule="exists")

    def generate(self, request: Any, seed: int, *inputs: Any) -> Any:
        raise GenerationError("an API process of the distributed mode generates nothing; t2i worker does")


class QueueService(JobService):
    def __init__(self, config: BackendConfig, generator: Generator, store: RedisJobStore, images: ImageStore,
                 broker: Any, registry: WorkerRegistry, clock: Clock | None = None) -> None:
        super().__init__(config, generator, store, images, clock)  # type: ignore[arg-type]
        self.broker = broker
        self.registry = registry

    def start(self) -> None:
        """Nothing to start: the workers run jobs and webhooks."""

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self.broker.close()
        self.store.close()

    def enqueue(self, request: Any, base_url: str, *args: Any) -> Job:
        job = super().enqueue(request, base_url, *args)
        try:
            send(self.broker, job.id)
        except Exception:
            # the client hears of no job: leave none queued without a message, counting against its key
            self.store.fail(job.id, INTERNAL_ERROR, 500, InternalError(INTERNAL_ERROR).to_body())
            raise
        return job

    def wait(self, job_id: int, timeout: float) -> Job:
        """The job once finished, or as it stands after ``timeout`` seconds: read from Redis every
        ``SYNC_POLL`` seconds, since the worker that finishes it is another process."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.store.get(job_id)
            assert job is not None
            remaining = deadline - time.monotonic()
            if job.finished or remaining <= 0 or self._stopping.wait(min(remaining, SYNC_POLL)):
                return job

    def eta(self, job: Job) -> float:
        """The queued work up to ``job`` at the recent pace, shared by the live workers' threads."""
        lanes = max(1, sum(w.threads for w in self.registry.live()))
        pace = self.store.seconds_per_cost() or DEFAULT_ETA
        running = self.store.claimed_elapsed(self.clock.now())
        return max((pace * self.store.work_until(job.id) - running) / lanes, MIN_ETA)


def queue_service(config: BackendConfig, clock: Clock | None = None) -> QueueService:
    """The service of an API process on the queue at ``config.queue``."""
    if not config.queue or config.data_dir is None:
        raise ValueError("an API process of the distributed mode needs --queue and --data (the images folder it "
                         "shares with the workers)")
    clock = clock or SystemClock()
    store = RedisJobStore.from_url(config.queue, clock)
    registry = WorkerRegistry(store.client, store.ns)
    files: Generator | None = None
    if config.models_dir is not None:
        from ..diffusion import DiffusersGenerator

        files = DiffusersGenerator.from_config(config)  # reads configs to check requests; loads no model
    images = ImageStore(config.data_dir.resolve() / "images")
    return QueueService(config, RegistryCheck(registry, files), store, images, make_broker(config.queue), registry,
                        clock)
