"""``t2i worker``: run one generation worker of the distributed mode until SIGTERM or Ctrl-C.

SIGTERM stops it gracefully (``--shutdown-timeout``, :meth:`~.worker.GenerationWorker.stop`); it exits 0.

Its options are the fields of :class:`~.config.WorkerSettings`, each also read from
``T2I_WORKER_<OPTION>``.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

import click

from t2i_contract.spec.options import settings_command

from ..errors import BackendError, MissingDependencyError
from .config import WorkerSettings

__all__ = ["worker_command"]


@settings_command("worker", WorkerSettings, context_settings={"show_default": True})
def worker_command(settings: WorkerSettings) -> None:
    """Run a generation worker for `t2i serve --queue` API processes.

        t2i worker --queue redis://127.0.0.1:6379/0 --models DIR/models --loras DIR/loras --data SHARED
    """
    if not settings.queue:
        raise click.UsageError("t2i worker needs --queue redis://HOST:PORT/DB (or T2I_WORKER_QUEUE)")
    if settings.models_dir is None:
        raise click.UsageError("t2i worker needs --models DIR (or T2I_WORKER_MODELS)")
    if settings.data_dir is None and not settings.images:
        raise click.UsageError("t2i worker needs --data DIR (or T2I_WORKER_DATA): the images folder it shares with "
                               "the t2i serve --queue processes, or --images s3://BUCKET/PREFIX")
    if settings.data_dir is None:
        settings.data_dir = Path(tempfile.mkdtemp(prefix="t2i-worker-scratch-"))
    from ..diffusion import DiffusersGenerator, require_backend

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        require_backend()
        from .worker import GenerationWorker

        worker = GenerationWorker(settings, DiffusersGenerator.from_config(settings.backend_config()))
        worker.start()
    except (BackendError, MissingDependencyError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    click.echo(f"t2i worker {settings.name} on {settings.queue} (models: {', '.join(worker.models)})", err=True)
    done.wait()
    click.echo(f"t2i worker {settings.name} stopping: the running job has {settings.shutdown_timeout:g} s to finish",
               err=True)
    if not worker.stop():
        # a generation thread is still inside torch: exiting normally would tear its threads down under it
        # (std::terminate); its job is already back in the queue
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
