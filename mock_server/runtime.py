"""What one running mock holds, and the mock's side of the protocol seam.

:class:`MockRuntime` is the mock's :class:`~t2i_contract.protocol.Service`: jobs live
in the shared SQLite :class:`~mock_server.store.JobStore` and images are drawn on
demand from the request (:class:`~mock_server.images.ImageCache`); the protocol
layer does everything else. It also keeps the request journal: ``begin`` starts an
entry, ``submit`` stores it in the same transaction as the job, ``finish`` stores
the others with the answer's status.

``create_app`` builds one runtime per app and keeps it in
``app.extensions["t2i_mock"]``. :meth:`MockRuntime.close` stops webhooks and closes
the store.
"""
from __future__ import annotations

import base64
import dataclasses
import fcntl
import logging
import random
import shutil
import time
from pathlib import Path
from typing import Any, BinaryIO

from t2i_contract.protocol import (
    Call, Clock, JobView, KeyRing, NotFound, QueueFull, Service, SystemClock, WebhookSender,
)
from t2i_contract.protocol.outbound import json_poster
from t2i_contract.protocol.webhooks import address_of
from t2i_contract.protocol.ownership import ImageNames, KeyHasher, image_name
from t2i_contract.protocol.urls import UrlPolicy, allows_private
from t2i_contract.spec import FetchRequest, GenerationRequest, ModelReloadRequest, Spec, load_spec
from t2i_contract.wire.answers import PROCESSING, SUCCESS, answers_for
from t2i_contract.wire.seeds import SeedRange, seed_range

from .behaviour import NOTHING, BehaviourFile
from .config import MockConfig
from .images import INPUTS_KEY, ImageCache, client_meta, encode_inputs
from .journal import kept_answer
from .store import Job, JobStore, temporary_folder

__all__ = ["DEFAULT_MODEL", "TIP", "MockRuntime", "image_path"]

DEFAULT_MODEL = "t2i-mock"
"""The model a contract pack's request gets on a mock without ``--models`` when it names none."""

log = logging.getLogger(__name__)
TIP = "This is a mock: images are deterministic placeholders drawn from the request."
# Headers worth keeping in the journal; hop-by-hop and server-added ones are noise.
_SKIP_HEADERS = frozenset({"host", "content-length", "connection", "accept-encoding"})


def image_path(token: str, index: int, proxy: bool = False) -> str:
    """Where sample ``index`` of the job whose images are named ``token`` is served (never by job id)."""
    return f"{'/proxy' if proxy else ''}/generations/{image_name(token, index)}"


def journal_entry(environ: dict[str, Any], now: float) -> dict[str, Any]:
    """The start of a journal entry from a WSGI environ: when, what, and the headers sent."""
    headers = {}
    for name, value in environ.items():
        if name.startswith("HTTP_"):
            header = name[5:].replace("_", "-").title()
        elif name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            header = name.replace("_", "-").title()
        else:
            continue
        if header.lower() not in _SKIP_HEADERS:
            headers[header] = value
    return {"at": now, "method": environ.get("REQUEST_METHOD", ""), "path": environ.get("PATH_INFO", ""),
            "query": environ.get("QUERY_STRING", ""), "headers": headers}


class MockRuntime(Service):
    def __init__(self, config: MockConfig, spec: Spec, store: JobStore, images: ImageCache, clock: Clock,
                 owned_folder: Path | None = None) -> None:
        self.config = config
        self.spec = spec
        self.store = store
        self.images = images
        self.clock = clock
        self.owned_folder = owned_folder
        self.owners = KeyHasher(store.secret)
        self.keyring = KeyRing(config.keys)
        self.names = ImageNames(store.secret)  # images under tokens derived from the job id: ids grant nothing
        # Seeds the client left to the server: any seed of the range will do, so a generator of this process
        # (seeded from os.urandom once) draws them; secrets' default asks the kernel once or twice a call, and
        # each ask gives the GIL up to the request threads waiting for it (issue 22)
        self._seeds = random.Random()
        self._seed_ranges: dict[str, SeedRange] = {}  # by operation, read from the spec at its first call
        self._resume_lock: BinaryIO | None = None
        self.behaviour = BehaviourFile(store.path)
        # a developer's webhook receiver usually runs on their own machine: private targets allowed by default
        self.url_policy = UrlPolicy(allow_private=allows_private(config.private_urls), allow=tuple(config.url_allow),
                                    deadline=config.webhook_timeout)
        self.webhooks = WebhookSender(self, attempts=config.webhook_attempts, backoff=config.webhook_backoff,
                                      timeout=config.webhook_timeout, clock=clock, post=json_poster(self.url_policy),
                                      resolve=address_of(self.url_policy))  # shares per client and address

    @classmethod
    def build(cls, config: MockConfig, clock: Clock | None = None) -> MockRuntime:
        clock = clock or SystemClock()
        folder = None
        if config.db_path is None:
            folder = temporary_folder()
            config = dataclasses.replace(config, db_path=folder / "mock.sqlite3")
        assert config.db_path is not None
        store = JobStore(config.db_path, ttl=config.ttl, journal_limit=config.journal_limit,
                         max_bytes=config.max_store_bytes, journal_bytes=config.journal_bytes,
                         max_jobs=config.max_jobs, clock=clock,
                         keys=(*config.keys, *([config.admin_key] if config.admin_key else [])))
        runtime = cls(config, load_spec(), store, ImageCache(), clock, owned_folder=folder)
        if folder is None:  # a store the user keeps (--db): deliveries a stopped mock left unsettled go out now
            runtime.resume_webhooks()
        return runtime

    def resume_webhooks(self) -> int:
        """Schedule the unsettled webhooks of the store, once per running server; how many.

        Every worker of a multi-process mock builds a runtime on the same file, so the
        first to take an exclusive ``flock`` on ``<db>.webhooks`` resumes them, and keeps
        the lock for its life; the kernel drops it when the process dies, however it dies.
        """
        lock = open(self.store.path.with_name(self.store.path.name + ".webhooks"), "a+b")  # noqa: SIM115
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # another worker of this server resumes them
            lock.close()
            return 0
        self._resume_lock = lock
        jobs = self.store.unsettled_webhooks()
        for job in jobs:
            self.webhooks.resume(job.id, job.webhook_status, max(job.ready_at, self.clock.now()))
        return len(jobs)

    # -- the journal -----------------------------------------------------------------
    def begin(self, call: Call) -> None:
        call.state["journal"] = entry = journal_entry(call.environ, self.clock.now())
        behaviour = self.behaviour.current()  # set with POST /__mock/behaviour, applied as Prefer is
        if behaviour is not NOTHING and behaviour.active and (applied := behaviour.apply(call.environ, call.operation_id, call.spec or self.spec)):
            entry["behaviour"] = applied
        low, high = behaviour.latency or self.config.latency
        if high > 0:
            time.sleep(random.uniform(low, high) / 1000.0)  # the simulated --latency, not a wait for anything

    def finish(self, call: Call, status: int) -> None:
        entry = call.state.get("journal")
        if entry is None or call.state.get("stored"):
            return
        entry["status"] = status
        entry["owner"] = self.journal_owner(call)
        entry["body"] = call.raw  # journal.py redacts and cuts it before it is stored
        entry["answer"] = kept_answer(call.answer)
        try:
            self.store.record(entry)
        except Exception:  # the journal must never break an answer
            log.exception("could not record a journal entry")

    def journal_owner(self, call: Call) -> str | None:
        """Whose journal entry this call makes: with ``--keys``, the digest of a valid key it sent (``admin.py``)."""
        key = call.state.get("key")  # where the contract says it travels (a pack's header: protocol.generic)
        if key is None:
            key = call.body.get("key") if isinstance(call.body, dict) else None
        if not self.keyring or not isinstance(key, str) or not self.keyring.matches(key):
            return None
        return self.owners.digest(key)

    # -- generations -------------------------------------------------------------------
    def plan_delay(self, call: Call) -> float:
        """Seconds until a new job is ready: 0 for an immediate success."""
        config, prefs = self.config, call.prefs
        if prefs.status == "processing":
            return config.eta if prefs.eta is None else prefs.eta
        if prefs.status is None and config.processing_ratio and random.random() < config.processing_ratio:
            return config.eta
        return 0.0

    def check_model(self, model_id: str) -> None:
        """A 404 for a model outside ``--models`` (when that list is set)."""
        if self.config.models and model_id not in self.config.models:
            raise NotFound(f"Model not found: {model_id}", field="model_id", value=model_id)

    def check(self, call: Call, request: GenerationRequest) -> None:
        self.check_model(request.model_id)

    def submit(self, call: Call, request: GenerationRequest) -> JobView:
        """Store a job (with its journal entry) and schedule its webhook; a 429 past ``--max-queued``.

        An img2img or inpaint job keeps its input images (``call.inputs``) in its stored
        ``meta``, so any worker can draw its pictures; answers never show them.
        """
        config = self.config
        self.check_model(request.model_id)
        meta = request.to_meta()
        if meta["seed"] is None:
            seeds = self._seed_ranges.get(request.OPERATION)
            if seeds is None:
                seeds = self._seed_ranges[request.OPERATION] = seed_range(self.spec, request.OPERATION)
            meta["seed"] = seeds.pick(self._seeds.randrange)
        entry = call.state["journal"]
        entry["owner"] = self.journal_owner(call)
        entry["body"] = call.raw  # journal.py redacts and cuts it before it is stored
        entry["normalised"] = {"key": request.key, **meta, "extra": dict(request.extra)}
        entry["status"] = 200
        if call.input_data:
            meta[INPUTS_KEY] = encode_inputs(call.input_data, meta)
        owner = self.owners.digest(request.key)  # protocol.ownership: keyed digest; enforced on fetch with --keys
        job = self.store.add_job(meta=meta, base_url=call.base_url, delay=self.plan_delay(call),
                                 webhook=request.webhook, track_id=request.track_id, journal=entry,
                                 max_pending=config.max_queued or None, owner=owner)
        if job is None:
            raise QueueFull(config.max_queued, config.retry_after)
        call.state["stored"] = True
        if job.webhook:
            self.webhooks.schedule(job.id, job.ready_at)
        return self.view(job, job.created)

    def fetch(self, call: Call, request: FetchRequest) -> JobView:
        entry = call.state["journal"]
        entry["normalised"] = {"key": request.key, "request_id": request.request_id}
        entry["job_id"] = request.request_id
        job = self.store.get_job(request.request_id)
        if job is None or not self.owners.owns(job.owner, request.key, enforced=bool(self.config.keys)):
            raise NotFound.generation(request.request_id)
        return self.view(job, self.clock.now())

    # -- what contract packs ask (protocol.generic) -------------------------------------------
    def default_model(self) -> str:
        """The first of ``--models``, else :data:`DEFAULT_MODEL` (the mock draws any model alike)."""
        return self.config.models[0] if self.config.models else DEFAULT_MODEL

    def settle(self, call: Call, view: JobView) -> JobView:
        """A job of a synchronous contract is asked for with ``Prefer: status=success``: ready at once."""
        job = self.store.get_job(view.id)
        return view if job is None else self.view(job, max(self.clock.now(), job.ready_at))

    def models(self, call: Call) -> list[str]:
        return list(self.config.models or (DEFAULT_MODEL,))

    def progress(self, call: Call) -> tuple[float, float]:
        """Nothing is ever half-drawn in the mock: no work in hand."""
        return 0.0, 0.0

    def reload_model(self, call: Call, request: ModelReloadRequest) -> dict[str, Any]:
        """Always loaded; ``Prefer: status=processing`` (``eta=N``) answers ``processing`` once, for clients' reload path."""
        self.check_model(request.model_id)
        call.state["journal"]["normalised"] = {"key": request.key, "model_id": request.model_id}
        if call.prefs.status == "processing":
            eta = self.config.eta if call.prefs.eta is None else call.prefs.eta
            return answers_for(self.spec).reload(PROCESSING, f"Model {request.model_id} is loading; call "
                                                 "model_reload again to see it ready", eta=eta)
        return answers_for(self.spec).reload(SUCCESS, f"Model {request.model_id} is loaded")

    # -- answers -------------------------------------------------------------------------
    def view(self, job: Job, now: float) -> JobView:
        meta = client_meta(job.meta)
        samples = int(meta.get("samples") or 1)
        token = self.names.token(job.id)  # a few HMACs: once per answer, not once per link
        links = [job.base_url + image_path(token, i) for i in range(samples)]
        ready = job.ready(now)

        def output() -> list[str]:
            if meta.get("base64"):
                return [base64.b64encode(self.images.get(job.id, i, job.meta)).decode("ascii")
                        for i in range(samples)]
            return links

        return JobView(
            id=job.id, state=SUCCESS if ready else PROCESSING, meta=meta, links=links, fetch_base=job.base_url,
            tip=TIP, webhook_status=job.webhook_status, track_id=job.track_id, eta=job.eta(now),
            generation_time=self.generation_time(job), output=output,
            proxy_links=[job.base_url + image_path(token, i, proxy=True) for i in range(samples)],
        )

    @staticmethod
    def generation_time(job: Job) -> float:
        """Simulated seconds: the queue delay, or what a GPU might take for this size and step count."""
        meta = job.meta
        pixels = int(meta["width"]) * int(meta["height"]) / (512 * 512)
        simulated = 0.3 + 0.04 * int(meta["num_inference_steps"]) * int(meta["samples"]) * pixels
        return round(max(simulated, job.ready_at - job.created), 3)

    # -- webhooks (protocol.WebhookSource) ---------------------------------------------------
    def webhook_target(self, job_id: int) -> tuple[str, dict[str, Any]] | None:
        job = self.store.get_job(job_id)
        if job is None or not job.webhook:
            return None
        return job.webhook, answers_for(self.spec).webhook(self.view(job, max(self.clock.now(), job.ready_at)))

    def record_webhook_status(self, job_id: int, status: str) -> None:
        self.store.set_webhook_status(job_id, status)

    def webhook_client(self, job_id: int) -> str | None:
        """Whose delivery this is (its key's digest): one client's slow receivers delay only its own."""
        job = self.store.get_job(job_id)
        return job.owner if job is not None else None

    def group(self) -> Any:
        """A block whose calls are stored in one transaction (``JobStore.group``): ``FastPath`` answers several so."""
        return self.store.group()

    def close(self) -> None:
        """Stop the webhook thread, close the store, and remove its folder if this runtime made it."""
        self.webhooks.close()
        self.store.close()
        self.behaviour.close()
        if self._resume_lock is not None:
            self._resume_lock.close()
        if self.owned_folder is not None:
            shutil.rmtree(self.owned_folder, ignore_errors=True)
