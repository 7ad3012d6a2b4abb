"""The Flask app of the reference backend: the spec's operations, the images, and a page.

``create_app(config=None, *, generator=None, clock=None)`` builds everything: the
SQLite job store and image folder under ``config.data_dir``, the generator
(diffusers unless a test injects one) and the worker threads; with ``config.queue``,
an API process of the distributed mode instead (``distributed/api.py``). The API operations,
their intake (Content-Type, body limits, the constant-time key check), ``Prefer``,
answers and the one error handler come from the protocol layer
(:func:`t2i_contract.protocol.install`) over :class:`~reference_backend.service.JobService`.
This module adds only what the backend serves besides the API:

- ``GET /images/<token>-<n>.png``: the generated images (``storage.py`` names them);
- ``GET /`` (with ``/page.js``) and ``GET /models``: a page to try every operation from a browser, and the ids
  it holds with their families (``page.py``);
- ``GET /healthz`` and ``GET /readyz``: liveness and readiness (``protocol/health.py``). Ready: the models
  folder holds a model, the job store and the image folder can be written, the generation threads run; an
  API process of the distributed mode: Redis answers, its image folder can be written, its outbox relay runs.

A client that sends ``Prefer: respond-async`` (or the mock's ``Prefer:
status=processing``) gets ``processing`` at once, whatever ``sync_timeout`` says.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Flask, Response, send_file

from t2i_contract.protocol import Clock, KeyRing, NotFound, Pipeline, SystemClock, install
from t2i_contract.protocol.health import Probe, folder_writable, install_health, sqlite_writable
from t2i_contract.protocol.settings import load_contracts
from t2i_contract.spec import load_spec

from .config import BackendConfig
from .generator import Generator
from .jobs import JobStore
from .page import available, register_page
from .service import JobService
from .storage import ImageStore

__all__ = ["EXTENSION", "create_app"]

EXTENSION = "t2i_backend"


def create_app(config: BackendConfig | None = None, *, generator: Generator | None = None,
               clock: Clock | None = None) -> Flask:
    """Build the app and start its workers; ``app.extensions[EXTENSION]`` is the JobService."""
    config = config or BackendConfig()
    clock = clock or SystemClock()
    if config.queue:
        from .distributed.api import queue_service

        service: JobService = queue_service(config, clock)
    else:
        if generator is None:
            from .diffusion import DiffusersGenerator

            generator = DiffusersGenerator.from_config(config)
        data_dir = config.data_dir or Path(tempfile.mkdtemp(prefix="t2i-backend-"))
        service = JobService(config, generator, JobStore(data_dir / "jobs.sqlite3", clock),
                             ImageStore(data_dir / "images"), clock)
    pipelines = [Pipeline(spec, service, keys=KeyRing(config.keys), public_url=config.public_url,
                          url_policy=service.url_policy) for spec in load_contracts(config.contract)]

    app = Flask(__name__)
    app.extensions[EXTENSION] = service
    for each in pipelines:  # several contracts side by side: their routes never overlap
        install(app, each)

    @app.get("/images/<name>")
    def image(name: str) -> Response:
        missing = NotFound(f"Image not found: {name}", field="", value=name)
        found = service.images.job_of(name)  # the job is read from the name's token, never from a job id
        path = service.images.path(name) if found else None
        if found is None or path is None:
            raise missing
        job = service.store.get(found[0])
        if job is None or name not in job.images:
            raise missing
        service.get(job.id, "", check_owner=False)  # raises once a temp image has expired
        return send_file(path, mimetype="image/png", max_age=0 if job.expires_at else 3600)

    text2img = next((route.path for each in pipelines for route in each.routes if route.operation_id == "text2img"),
                    None)
    if text2img is not None:  # the page is a v6 form
        held = getattr(service, "held", None) if config.queue else None  # an API process: its live workers'
        register_page(app, load_spec(), text2img, config, held)  # GET / (a tab per operation), /page.js, /models

    service.start()
    install_health(app, readiness_probes(config, service))  # GET /healthz and /readyz, in front of Flask
    return app


def readiness_probes(config: BackendConfig, service: JobService) -> dict[str, Probe]:
    """What ``GET /readyz`` asks of this process (see the module docstring)."""
    probes: dict[str, Probe] = {}
    if config.models_dir is not None:
        probes["models"] = _models_on_disk(config)
    if config.queue:
        from .distributed.api import QueueService

        assert isinstance(service, QueueService)
        probes["queue"] = service.queue_probe()
    else:
        probes["store"] = sqlite_writable(service.store.path)
    folder = getattr(service.images, "folder", None)  # an S3 bucket (--images) has no folder to probe
    if folder is not None:
        probes["images"] = folder_writable(folder)
    probes["threads"] = _threads_running(service)
    return probes


def _models_on_disk(config: BackendConfig) -> Probe:
    def probe() -> str | None:
        if available(config)["models"]:
            return None
        return (f"no model in {config.models_dir} (a diffusers folder <id>/ with model_index.json, or a single "
                f"file <id>.safetensors)")

    return probe


def _threads_running(service: JobService) -> Probe:
    """The service's own threads (generation workers; the outbox relay of an API process) are alive."""

    def probe() -> str | None:
        if service._stopping.is_set():  # noqa: SLF001 - the service's life cycle, read only
            return "the server is stopping"
        threads = service._threads  # noqa: SLF001
        dead = [thread.name for thread in threads if not thread.is_alive()]
        if dead:
            return f"{', '.join(dead)} stopped"
        return None if threads else "its threads have not started"

    return probe
