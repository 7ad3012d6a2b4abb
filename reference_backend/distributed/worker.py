"""``t2i worker``: one generation worker process of the distributed mode.

A :class:`GenerationWorker` is the embedded :class:`~reference_backend.service.JobService`
(generate, upscale, save the PNGs, record the result, send the webhook) fed by
Dramatiq instead of its own threads. For each message (a job id) :meth:`handle`:

1. drops it when the job is finished, after settling a webhook a dead worker left
   unsent (the spec lets a webhook arrive more than once);
2. leaves it for later when another live worker runs it (a duplicate message);
3. with affinity on, hands it back to the queue when another live worker has more
   of it loaded (its model, then its LoRAs) than this one (:meth:`_hand_on`): this
   reorders the queue, and a worker that has run nothing for ``affinity_wait``
   seconds runs the next job itself;
4. claims it (atomically, in Redis), runs it, and waits for its webhook to settle
   before returning, so the message is acknowledged only once nothing of the job is
   left to do. A worker killed before that has its message redelivered by Dramatiq
   after ``heartbeat_timeout``; the next worker runs the job again under the same
   image names, so no duplicate image is ever listed. Only the worker that holds a
   job can finish it (the store checks), so a worker given up for dead that wakes
   up again cannot record a second result.

A heartbeat thread republishes the worker in the registry (models, LoRAs, what is
loaded, how busy) every third of ``heartbeat_timeout``, sweeps expired temp images
and relays the outbox (messages an API process died before sending).

:meth:`GenerationWorker.stop` (SIGTERM) is graceful: the worker takes no new job,
lets the running one finish and its webhook settle within ``shutdown_timeout``,
and past that hands the job back to the queue at once (queued again in Redis, a
new message sent) and reports that it left a generation running, so the CLI ends
the process without tearing torch's threads down under it (exit status 0).
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path
from typing import Any

from t2i_contract.protocol import SystemClock

from ..generator import GenerationResult, Generator
from ..jobs import RUNNING, Job
from ..service import JobService
from .batching import BatchingGenerator, gather
from .broker import declare_actor, make_broker, relay_unsent, send
from .config import WorkerSettings
from .objects import image_store
from .policy import ClusterPolicy, PolicyReader
from .registry import WorkerInfo, WorkerRegistry
from .store import RedisJobStore

__all__ = ["GenerationWorker", "TaggingGenerator", "list_ids"]

log = logging.getLogger(__name__)
AFFINITY_HOLD = 0.2
"""Seconds a worker that handed a job on for affinity stays out of the queue's way."""
SKIPS_BEFORE_HOLD = 4
DUPLICATE_RETRY = 2.0
REDIS_RETRY = 1.0
PERSIST_FOR = 300.0
"""Seconds a worker keeps trying to record a result (or a webhook status) while Redis is away."""
WEBHOOK_POLL = 0.1


def list_ids(folder: Path | None, *, files: bool) -> list[str]:
    """Model ids (folders and single files) or LoRA ids (``*.safetensors``) in a folder."""
    if folder is None or not folder.is_dir():
        return []
    ids = []
    for path in sorted(folder.iterdir()):
        if path.suffix == ".safetensors":
            ids.append(path.stem)
        elif not files and path.is_dir() and path.suffix != ".config":
            ids.append(path.name)
    return ids


def loaded_models(generator: Generator) -> dict[str, list[str]]:
    """model id -> loaded LoRA ids, read from the diffusers generator's pipeline cache."""
    models = getattr(generator, "_models", {})
    return {model_id: list(getattr(loaded, "adapters", {})) for model_id, loaded in list(models.items())}


class TaggingGenerator(Generator):
    """Adds ``worker`` (who ran it) and ``model_load`` (whether its model had to be loaded) to a result's info."""

    def __init__(self, inner: Generator, name: str) -> None:
        self.inner = inner
        self.name = name

    def check(self, request: Any, *inputs: Any) -> None:
        self.inner.check(request, *inputs)

    def generate(self, request: Any, seed: int, *inputs: Any) -> GenerationResult:
        cold = request.model_id not in loaded_models(self.inner)
        result = self.inner.generate(request, seed, *inputs)
        result.info = {**result.info, "worker": self.name, "model_load": cold}
        return result

    def batch_key(self, request: Any) -> str | None:
        return self.inner.batch_key(request)

    def generate_batch(self, items: list[tuple[Any, int]]) -> list[GenerationResult]:
        cold = items[0][0].model_id not in loaded_models(self.inner)
        results = self.inner.generate_batch(items)
        for index, result in enumerate(results):
            result.info = {**result.info, "worker": self.name, "model_load": cold and index == 0}
        return results

    def close(self) -> None:
        self.inner.close()


def _level(loaded: dict[str, list[str]], job: Job) -> int:
    """2: model and every LoRA loaded; 1: the model; 0: neither."""
    request = job.request
    if request.model_id not in loaded:
        return 0
    return 2 if set(request.lora_model) <= set(loaded[request.model_id]) else 1


class GenerationWorker:
    def __init__(self, settings: WorkerSettings, generator: Generator) -> None:
        self.settings = settings
        self.name = settings.name
        if not settings.queue:
            raise ValueError("a worker needs queue: the Redis URL its API processes queue jobs on")
        config = settings.backend_config()
        self.store = RedisJobStore.from_url(settings.queue)
        self.store.worker = self.name
        self.store.persist_for = PERSIST_FOR
        self.registry = WorkerRegistry(self.store.client, self.store.ns)
        self.generator = generator
        if config.data_dir is None:
            raise ValueError("a worker needs data_dir: the images folder it shares with the API processes, or its "
                             "scratch folder with --images s3://...")
        images = image_store(settings.images, settings.images_endpoint, config.data_dir, self.store.client,
                             self.store.ns)
        self.batching = BatchingGenerator(TaggingGenerator(generator, self.name))
        self.service = JobService(config, self.batching, self.store,  # type: ignore[arg-type]
                                  images, SystemClock())  # type: ignore[arg-type]
        # the cluster's policy, from Redis: webhooks go out under the rules they were accepted under
        self.policy = PolicyReader(self.store.client, self.store.ns, ClusterPolicy.from_config(config))
        self.service.webhooks.post = self.policy.poster(config.webhook_timeout)
        self.broker = make_broker(settings.queue, settings.heartbeat_timeout)
        declare_actor(self.broker, self.handle)
        self.models = list_ids(settings.models_dir, files=False)
        self.loras = list_ids(settings.loras_dir, files=True)
        self.vaes = list_ids(settings.vaes_dir, files=False)
        self.ip_adapters = list_ids(settings.ip_adapters_dir, files=False)
        self._busy = 0
        self._idle_since: float | None = None
        self._streak = 0
        self._lock = threading.Lock()
        self._running: set[int] = set()
        self._draining = threading.Event()
        """Set by stop(): take no new job; the running one goes on."""
        self._abandoned = threading.Event()
        """Set when the shutdown timeout ran out with a job still running: it has been handed back."""
        self._stopping = threading.Event()
        """Set at the very end of stop(): the heartbeat stops."""
        self._worker: Any = None
        self._heart: threading.Thread | None = None

    # -- registry -------------------------------------------------------------------------
    def refresh_policy(self) -> None:
        policy = self.policy.refresh()
        if policy.temp_ttl != self.service.config.temp_ttl:
            self.service.config = dataclasses.replace(self.service.config, temp_ttl=policy.temp_ttl)

    def publish(self) -> None:
        with self._lock:
            busy = self._busy
        info = WorkerInfo(self.name, self.models, self.loras, loaded_models(self.generator), busy,
                          self.settings.generation_threads, vaes=self.vaes, ip_adapters=self.ip_adapters)
        self.registry.publish(info, self.settings.heartbeat_timeout)

    def _beat(self) -> None:
        while not self._stopping.wait(self.settings.heartbeat_timeout / 3):
            try:
                self.publish()
                self.refresh_policy()
                self.service._sweep()
                relay_unsent(self.store, self.broker)
            except Exception:  # Redis restarting: the next beat tries again
                log.warning("heartbeat of worker %s failed; retrying", self.name, exc_info=True)

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        from dramatiq import Worker

        self.refresh_policy()
        self.publish()
        self._heart = threading.Thread(target=self._beat, name="t2i-heartbeat", daemon=True)
        self._heart.start()
        self._worker = Worker(self.broker, worker_threads=self.settings.generation_threads, worker_timeout=100)
        self._worker.queue_prefetch = self.settings.generation_threads  # hold no job another worker could start now
        self._worker.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop taking jobs, let the running one finish within ``timeout`` (``shutdown_timeout``), hand it back
        past that. True when nothing is left running; False when a generation thread is still inside the
        pipeline (then the caller ends the process with ``os._exit``: joining torch's threads is not possible)."""
        timeout = self.settings.shutdown_timeout if timeout is None else timeout
        self._draining.set()
        if self._worker is not None:
            self._worker.stop(timeout=int(timeout * 1000))  # Dramatiq lets the handlers run that long
        with self._lock:
            left = sorted(self._running)
        if left:
            self._abandoned.set()
            self.service._stopping.set()  # the late generation saves nothing (and the store refuses its result)
            for job_id in left:
                self._hand_back(job_id)
        self._stopping.set()
        try:
            self.registry.withdraw(self.name)
        except Exception:
            log.warning("could not withdraw worker %s from the registry", self.name)
        if not left:
            self.service.stop()
            self.broker.close()
        return not left

    def _hand_back(self, job_id: int) -> None:
        try:
            if self.store.release(job_id, self.name):
                send(self.broker, job_id)
                log.info("job %s still running after the shutdown timeout: handed back to the queue", job_id)
        except Exception:  # Redis away: the job is still ours in Redis; another worker takes it once we are gone
            log.warning("could not hand job %s back; it is run again after the heartbeat timeout", job_id,
                        exc_info=True)

    # -- one message ---------------------------------------------------------------------------
    def handle(self, job_id: int) -> None:
        """Dramatiq's actor. While Redis is away (restarting), wait and try again: never let the message fail."""
        import redis

        while not self._abandoned.is_set():
            try:
                self._handle(job_id)
                return
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("job %s: Redis is away (%s); trying again in %gs", job_id, exc, REDIS_RETRY)
                self._abandoned.wait(REDIS_RETRY)
        try:  # stopping before the job was done: hand it on rather than acknowledge it
            send(self.broker, job_id)
        except redis.RedisError:
            threading.Event().wait()  # never acknowledged: redelivered once this process is gone

    def _later(self, job_id: int, seconds: float) -> None:
        """Offer the job again after ``seconds`` (at once when stopping). Waits here rather than in Dramatiq's
        delay queue: a delayed message is held in one worker's memory, and a Redis restart would strand it."""
        self._draining.wait(seconds)
        send(self.broker, job_id)

    def _handle(self, job_id: int) -> None:
        if self._draining.is_set():  # stopping: start nothing new
            send(self.broker, job_id)
            return
        with self._lock:
            mine = job_id in self._running
        if mine:  # running here in a batch: its own message waits until it is done
            self._later(job_id, DUPLICATE_RETRY)
            return
        job = self.store.get(job_id)
        if job is None:
            log.warning("message for unknown job %s dropped", job_id)
            return
        if job.finished:
            self._settle_webhook(job, resume=True)
            return
        owner = self.store.owner(job_id)
        if job.state == RUNNING and owner != self.name and self.registry.alive(owner):
            self._later(job_id, DUPLICATE_RETRY)  # kept until that worker finishes or dies
            return
        hot = self._hot_worker(job) if self.settings.affinity else None
        if hot is not None and self._hand_on(job, idle=hot.busy < hot.threads):
            return
        if not self.store.claim(job_id, self.name, dead_owner=owner if job.state == RUNNING else ""):
            self._later(job_id, DUPLICATE_RETRY)  # taken meanwhile: look again later
            return
        if job.state == RUNNING and owner != self.name:
            log.info("job %s was left running by dead worker %s; running it again", job_id, owner)
        with self._lock:
            self._busy += 1
            self._running.add(job_id)
            self._idle_since, self._streak = None, 0
        jobs: list[Job] = []
        items: list[tuple[Any, int]] = []
        try:
            claimed = self.store.get(job_id)
            assert claimed is not None
            jobs = [claimed] + gather(claimed, self.batching, self.store, self.name,
                                      max_batch=self.settings.max_batch, batch_wait=self.settings.batch_wait,
                                      stop=self._draining)
            with self._lock:
                self._busy += len(jobs) - 1
                self._running.update(job.id for job in jobs)
            self._publish_quietly()
            items = [(job.request, job.seed) for job in jobs]
            if len(jobs) > 1:
                log.info("jobs %s run as one batch", ", ".join(str(job.id) for job in jobs))
                self.batching.prime(items)
            for job in jobs:
                self.service._run(self.store.get(job.id) or job)
        finally:
            self.batching.forget(items)
            with self._lock:
                self._busy -= max(1, len(jobs))
                self._running.difference_update({job_id} | {job.id for job in jobs})
            self._publish_quietly()
        for job in jobs:
            finished = self.store.get(job.id)
            if finished is None or not finished.finished:
                send(self.broker, job.id)  # stopped mid-generation: the job is still ours and running; hand it on
            else:
                self._settle_webhook(finished, resume=False)

    def _publish_quietly(self) -> None:
        try:
            self.publish()
        except Exception:
            log.warning("could not publish worker %s", self.name, exc_info=True)

    def _hot_worker(self, job: Job) -> WorkerInfo | None:
        """A live worker with more of the job loaded (its model, then its LoRAs) than this one."""
        mine = _level(loaded_models(self.generator), job)
        if mine == 2:
            return None
        others = [w for w in self.registry.live() if w.name != self.name and _level(w.loaded, job) > mine]
        return max(others, key=lambda w: (_level(w.loaded, job), w.busy < w.threads), default=None)

    def _hand_on(self, job: Job, *, idle: bool) -> bool:
        """Put the job back in the queue for a worker that has more of it loaded; False: run it here.

        - that worker is idle: hand the job on and hold this message for ``AFFINITY_HOLD``, fetching
          nothing, so the idle worker gets it;
        - it is busy: hand the job on and move on to the next one (the queue is reordered); after a
          few hand-ons in a row, wait ``AFFINITY_HOLD`` before each, rather than spin through a
          queue that holds nothing for this worker.

        A worker that has handed jobs on for ``affinity_wait`` seconds without running one runs the
        next one itself, loading its model: that bound keeps one hot model from starving the rest
        and a worker from idling beside a queue."""
        now = time.monotonic()
        with self._lock:
            self._idle_since = self._idle_since or now
            self._streak += 1
            streak, idle_for = self._streak, now - self._idle_since
        if idle_for >= self.settings.affinity_wait:
            return False
        if idle:
            send(self.broker, job.id)
            self._draining.wait(AFFINITY_HOLD)
        elif streak > SKIPS_BEFORE_HOLD:
            self._later(job.id, AFFINITY_HOLD)
        else:
            send(self.broker, job.id)
        return True

    def _settle_webhook(self, job: Job, *, resume: bool) -> None:
        """Wait until the job's webhook is delivered or given up; ``resume`` one a dead worker left unsettled.

        The message is acknowledged only after this, so a worker killed meanwhile leaves the delivery to the
        next one. A status still unsettled past every attempt's time (its write lost to a Redis restart) is
        resumed once more, as is one left when this worker stops: the spec lets a webhook arrive twice."""
        config = self.service.config
        patience = (config.webhook_attempts * (config.webhook_timeout + 1)
                    + config.webhook_backoff * 2 ** config.webhook_attempts)
        while self.store.unsettled_webhook(job.id):
            if resume:
                current = self.store.get(job.id)
                self.service.webhooks.resume(job.id, current.webhook_status if current else job.webhook_status)
            resume = True
            deadline = self.store.clock.now() + patience
            while self.store.unsettled_webhook(job.id) and self.store.clock.now() < deadline:
                if self._abandoned.wait(WEBHOOK_POLL):
                    send(self.broker, job.id)  # stopping: the next worker settles it
                    return
