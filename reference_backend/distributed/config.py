"""Settings of ``t2i worker``: the queue, how the worker is known, and the generation settings it shares with
``t2i serve``.

The generation fields (models, LoRAs, device, webhook delivery, ...) are
:class:`~reference_backend.config.BackendConfig`'s own fields, taken over with their
help and default by :func:`_same`, so each is stated once; ``T2I_WORKER_<FLAG>``
reads them here as ``T2I_SERVE_<FLAG>`` does there. The cluster's policy (URL policy,
limits, temp image lifetime) is not among them: workers read it from Redis
(:mod:`.policy`), where the API processes put it.
"""
from __future__ import annotations

import dataclasses
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from t2i_contract.spec.options import setting

from ..config import BackendConfig, parse_queue_url
from .broker import DEFAULT_HEARTBEAT_TIMEOUT

__all__ = ["DEFAULT_AFFINITY_WAIT", "DEFAULT_BATCH_WAIT", "DEFAULT_SHUTDOWN_TIMEOUT", "WorkerSettings"]

DEFAULT_AFFINITY_WAIT = 10.0
DEFAULT_BATCH_WAIT = 50.0
DEFAULT_SHUTDOWN_TIMEOUT = 600.0
"""Seconds SIGTERM waits for the running job: a long SDXL job on a GPU, with a model load, fits."""
_BACKEND_FIELDS = {f.name: f for f in dataclasses.fields(BackendConfig)}


def _same(name: str) -> Any:
    """BackendConfig's field ``name``: its default, help and flag."""
    original = _BACKEND_FIELDS[name]
    return dataclasses.field(default=original.default, metadata=original.metadata)


def _default_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(kw_only=True)
class WorkerSettings:
    """Everything one generation worker process needs."""

    queue: str | None = setting(None, metavar="redis://HOST:PORT/DB", parse=parse_queue_url,
                                default_text="none: required",
                                help="Redis URL of the queue and job store shared with the t2i serve --queue "
                                     "processes, e.g. redis://127.0.0.1:6379/0.")
    name: str = setting("", default_text="HOST-PID",
                        help="How this worker is known in meta.worker and the registry; unique per worker.")
    heartbeat_timeout: float = setting(DEFAULT_HEARTBEAT_TIMEOUT, type=click.FloatRange(min=1),
                                       help="Seconds without a heartbeat after which a worker counts as dead and "
                                            "its unfinished job goes to another worker.")
    affinity: bool = setting(True, help="Leave a job to a live worker that has its model and LoRAs loaded, "
                                        "for up to --affinity-wait seconds.")
    affinity_wait: float = setting(DEFAULT_AFFINITY_WAIT, type=click.FloatRange(0),
                                   help="Seconds a job is left for a worker with its model loaded before any "
                                        "free worker takes it.")
    shutdown_timeout: float = setting(DEFAULT_SHUTDOWN_TIMEOUT, type=click.FloatRange(0),
                                      help="Seconds SIGTERM lets the running job finish (and its webhook settle); "
                                           "past that the job goes back to the queue at once and the worker "
                                           "exits 0.")
    max_batch: int = setting(1, type=click.IntRange(1),
                             help="Images one pipeline call may make from queued jobs that can share it (same model, "
                                  "size, steps, scheduler, guidance and LoRA set; text2img of one sample, SD and "
                                  "SDXL); 1 runs every job alone.")
    batch_wait: float = setting(DEFAULT_BATCH_WAIT, type=click.FloatRange(0),
                                help="Milliseconds a batch that is not full waits for more jobs that can join it.")
    models_dir: Path | None = _same("models_dir")
    loras_dir: Path | None = _same("loras_dir")
    vaes_dir: Path | None = _same("vaes_dir")
    ip_adapters_dir: Path | None = _same("ip_adapters_dir")
    data_dir: Path | None = setting(None, flag="data", type=click.Path(file_okay=False, path_type=Path),
                                    default_text="none: required, unless --images (then a new temporary folder)",
                                    help="The images folder this worker shares with the t2i serve --queue "
                                         "processes; with --images, its own scratch space.")
    images: str | None = _same("images")
    images_endpoint: str | None = _same("images_endpoint")
    device: str = _same("device")
    dtype: str = _same("dtype")
    generation_threads: int = _same("generation_threads")
    webhook_attempts: int = _same("webhook_attempts")
    webhook_backoff: float = _same("webhook_backoff")
    webhook_timeout: float = _same("webhook_timeout")
    max_loaded_models: int = _same("max_loaded_models")
    max_loras: int = _same("max_loras")
    torch_threads: int | None = _same("torch_threads")

    def __post_init__(self) -> None:
        self.name = self.name or _default_name()

    def backend_config(self) -> BackendConfig:
        shared = {name: getattr(self, name) for name in _BACKEND_FIELDS if hasattr(self, name)}
        return BackendConfig(**shared)
