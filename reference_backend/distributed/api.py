"""The API process of the distributed mode: accept, validate, enqueue, answer; load no model.

``t2i serve --queue redis://...`` builds :func:`queue_service` instead of the
embedded service. It is the same :class:`~reference_backend.service.JobService`
(answers, views, fetch, waiting for a sync answer) over the shared
:class:`~.store.RedisJobStore`, with three differences:

- ``enqueue`` stores the job and its outbox entry in one Redis script, then sends
  the queue message and clears the entry; a process killed in between leaves the
  entry, and any live API process or worker sends the message a few seconds later
  (:func:`~.broker.relay_unsent`), so a stored job is always run, and never blocks
  its key's ``--max-queued`` for good;
- the generator only checks: against the live workers' registry (a model no live
  worker serves is a 503 naming it, with ``Retry-After``, and so is every model while
  no worker is live, since the next one may bring it: before the first worker
  registers the answer says so; a model no worker ever served while others are live
  is a 404 saying what they serve; a LoRA, VAE or IP-Adapter no live worker with
  the model has a 404), then, when the API process was given ``--models`` too,
  against the files, without loading them;
- ``eta`` divides the queued work by the number of live workers' threads, and ``GET /models``
  lists what the live workers serve;
- while Redis cannot be reached, every operation answers 503 with ``Retry-After``
  (:class:`QueueUnavailable`, the spec's error shape) and picks up again by itself
  once Redis is back (redis-py reconnects).

The one background thread relays the outbox; workers run jobs and send webhooks.
"""
from __future__ import annotations

import logging
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from t2i_contract.protocol import Clock, InternalError, SystemClock
from t2i_contract.protocol.health import PROBE_TIMEOUT, Probe

from ..errors import BackendError, GenerationError, NotFoundError
from ..generator import Generator
from ..service import DEFAULT_ETA, INTERNAL_ERROR, MIN_ETA, JobService
from .broker import OUTBOX_GRACE, make_broker, relay_unsent, send
from .objects import image_store
from .policy import ClusterPolicy, agree
from .registry import WorkerInfo, WorkerRegistry
from .store import DEFAULT_NAMESPACE, RedisJobStore

if TYPE_CHECKING:
    from ..config import BackendConfig
    from ..jobs import Job
    from ..storage import ImageStore
    from .objects import ObjectImageStore

__all__ = ["NoLiveWorker", "QueueService", "QueueUnavailable", "RegistryCheck", "preflight_queue", "queue_service"]

SYNC_POLL = 0.1
log = logging.getLogger(__name__)


class NoLiveWorker(BackendError):
    """503: no live worker can serve the request now (Retry-After says when to ask again)."""

    code = "no_live_worker"
    status = 503

    def __init__(self, message: str, *, field: str, value: str, rule: str, retry_after: int) -> None:
        super().__init__(message, field=field, value=value, rule=rule)
        self.headers = {"Retry-After": str(retry_after)}
        self.extra = {"retry_after": retry_after}


class QueueUnavailable(BackendError):
    """503: Redis (jobs and queue) cannot be reached now; ``Retry-After`` says when to ask again."""

    code = "queue_unavailable"
    status = 503

    def __init__(self, retry_after: int, reason: str) -> None:
        super().__init__(f"Service temporarily unavailable: the job queue cannot be reached ({reason}); "
                         f"try again in {retry_after} s", rule=self.code)
        self.headers = {"Retry-After": str(retry_after)}
        self.extra = {"retry_after": retry_after}


def _unreachable() -> tuple[type[BaseException], ...]:
    """The errors that mean Redis is away (down, restarting, loading its AOF), from redis-py and Dramatiq."""
    import redis
    from dramatiq.errors import ConnectionError as BrokerConnectionError

    return redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, BrokerConnectionError


class RegistryCheck(Generator):
    """The API process's generator: refuses what no live worker can run, generates nothing."""

    def __init__(self, registry: WorkerRegistry, files: Generator | None = None, retry_after: int = 5) -> None:
        self.registry = registry
        self.files = files
        self.retry_after = retry_after

    def check(self, request: Any, *inputs: Any) -> None:
        if self.files is not None:
            self.files.check(request, *inputs)
        live = self.registry.live()
        serving = [w for w in live if request.model_id in w.models]
        if not serving:
            self._refuse_model(request.model_id, live)
        # what else the request names, each held by a live worker that has everything before it
        needs = [("lora_model", "LoRA", lora_id, "loras") for lora_id in request.lora_model]
        needs += [(name, title, getattr(request, name), attribute)
                  for name, title, attribute in (("vae", "VAE", "vaes"), ("ip_adapter_id", "IP-Adapter", "ip_adapters"))
                  if getattr(request, name, None)]
        for name, title, value, attribute in needs:
            serving = [w for w in serving if value in getattr(w, attribute)]
            if not serving:
                raise NotFoundError(f"{title} not found: {value} (no live worker serving {request.model_id} with "
                                    f"the rest of this request has it)", field=name, value=value, rule="exists")

    def _refuse_model(self, model_id: str, live: list[WorkerInfo]) -> None:
        """Why no live worker takes ``model_id``, as the answer that says so: 503 while one may come, else 404."""
        served = ", ".join(sorted({m for w in live for m in w.models})) or "nothing"
        if not live and not self.registry.ever_registered():
            raise NoLiveWorker(f"No worker serves model {model_id}: no t2i worker has registered with this queue "
                               f"yet; start one whose --models has it", field="model_id", value=model_id,
                               rule="live_worker", retry_after=self.retry_after)
        if not live or model_id in self.registry.known_models():  # the next worker to start may bring it
            raise NoLiveWorker(f"No live worker serves model {model_id} now ({len(live)} live worker(s) serve "
                               f"{served}); start a t2i worker whose --models has it", field="model_id",
                               value=model_id, rule="live_worker", retry_after=self.retry_after)
        raise NotFoundError(f"Model not found: {model_id}: no worker serves it (the {len(live)} live worker(s) "
                            f"serve {served})", field="model_id", value=model_id, rule="exists")

    def generate(self, request: Any, seed: int, *inputs: Any) -> Any:
        raise GenerationError("an API process of the distributed mode generates nothing; t2i worker does")


class QueueService(JobService):
    def __init__(self, config: BackendConfig, generator: Generator, store: RedisJobStore,
                 images: ImageStore | ObjectImageStore, broker: Any, registry: WorkerRegistry,
                 clock: Clock | None = None) -> None:
        super().__init__(config, generator, store, images, clock)  # type: ignore[arg-type]
        self.broker = broker
        self.registry = registry
        self._probe_client: Any = None

    @contextmanager
    def _redis_answers(self) -> Iterator[None]:
        try:
            yield
        except _unreachable() as exc:
            raise QueueUnavailable(self.config.retry_after, type(exc).__name__) from exc

    def check(self, call: Any, request: Any) -> None:
        with self._redis_answers():
            super().check(call, request)

    def submit(self, call: Any, request: Any) -> Any:
        with self._redis_answers():
            return super().submit(call, request)

    def fetch(self, call: Any, request: Any) -> Any:
        with self._redis_answers():
            return super().fetch(call, request)

    def held(self) -> dict[str, list[str]]:
        """What the live workers serve, for ``GET /models``: an API process holds no model of its own."""
        with self._redis_answers():
            live = self.registry.live()
        return {kind: sorted({name for worker in live for name in getattr(worker, kind)})
                for kind in ("models", "loras", "vaes")}

    def models(self, call: Any) -> list[str]:
        """The models a live worker serves (a pack's model list; its requests' default, the first)."""
        return self.held()["models"]

    def queue_probe(self) -> Probe:
        """A readiness probe: Redis (jobs and queue) answers a PING within ``PROBE_TIMEOUT`` seconds."""
        import redis

        assert self.config.queue
        client = redis.Redis.from_url(self.config.queue, socket_connect_timeout=PROBE_TIMEOUT,
                                      socket_timeout=PROBE_TIMEOUT)  # its own: the store's waits up to 30 s
        self._probe_client = client

        def probe() -> str | None:
            try:
                client.ping()
            except (redis.RedisError, OSError) as exc:
                return f"the job queue (Redis) does not answer: {type(exc).__name__}: {exc}"
            return None

        return probe

    def start(self) -> None:
        """Relay the outbox in the background: the workers run jobs and webhooks."""
        thread = threading.Thread(target=self._relay, name="t2i-outbox", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _relay(self) -> None:
        while not self._stopping.wait(OUTBOX_GRACE):
            try:
                relay_unsent(self.store, self.broker)
            except Exception:  # Redis away: the next round tries again
                log.warning("relaying the outbox failed; retrying", exc_info=True)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout)
        self.broker.close()
        self.store.close()
        if self._probe_client is not None:
            self._probe_client.close()

    def enqueue(self, request: Any, base_url: str, *args: Any) -> Job:
        job = super().enqueue(request, base_url, *args)  # stored with its outbox entry, in one script
        try:
            send(self.broker, job.id)
            self.store.sent(job.id)
        except Exception:
            # the client hears of no job: fail it if Redis lets us; if not, the outbox runs it
            try:
                self.store.fail(job.id, INTERNAL_ERROR, 500, InternalError(INTERNAL_ERROR).to_body())
            except Exception:
                log.warning("job %s stays in the outbox: it will run", job.id)
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
    if not config.queue or (config.data_dir is None and not config.images):
        raise ValueError("an API process of the distributed mode needs --queue, and --data (the images folder it "
                         "shares with the workers) or --images s3://BUCKET/PREFIX")
    clock = clock or SystemClock()
    store = RedisJobStore.from_url(config.queue, clock)
    agree(store.client, store.ns, ClusterPolicy.from_config(config))  # one policy for every API process
    registry = WorkerRegistry(store.client, store.ns)
    files: Generator | None = None
    if config.models_dir is not None:
        from ..diffusion import DiffusersGenerator

        files = DiffusersGenerator.from_config(config)  # reads configs to check requests; loads no model
    data_dir = config.data_dir or Path(tempfile.mkdtemp(prefix="t2i-api-scratch-"))
    images = image_store(config.images, config.images_endpoint, data_dir, store.client, store.ns)
    return QueueService(config, RegistryCheck(registry, files, config.retry_after), store, images,
                        make_broker(config.queue), registry, clock)


def preflight_queue(config: BackendConfig) -> None:
    """Before serving: the queue answers, and this process's policy is the cluster's (or becomes it)."""
    import redis

    assert config.queue
    try:
        client = redis.Redis.from_url(config.queue, socket_connect_timeout=5, decode_responses=True)
        client.ping()
    except (redis.RedisError, ValueError) as exc:
        raise ValueError(f"--queue {config.queue} does not answer: {exc}") from None
    agree(client, DEFAULT_NAMESPACE, ClusterPolicy.from_config(config))
    client.close()
