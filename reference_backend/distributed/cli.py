"""``t2i worker``: run one generation worker of the distributed mode until SIGTERM or Ctrl-C.

SIGTERM stops it gracefully (``--shutdown-timeout``, :meth:`~.worker.GenerationWorker.stop`); it exits 0.

Its options are the fields of :class:`~.config.WorkerSettings`, each also read from
``T2I_WORKER_<OPTION>``. What it needs is checked cheapest first, each refusal one line:
the options (exit 2), the ``queue`` and ``backend`` extras, a Redis that answers, then the
models (exit 1), so a Redis that is down is said before any model is read.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

import click

from t2i_contract.spec.options import settings_command

from ..errors import BackendError, MissingDependencyError
from ..quiet import quiet_known_noise
from ..config import MOCK_ONLY_FLAGS
from .config import WorkerSettings

__all__ = ["QUEUE_INSTALL_HINT", "ping_queue", "require_queue", "worker_command"]

QUEUE_INSTALL_HINT = "pip install -e '.[queue]' in the t2i-contract checkout"
_QUEUE_PACKAGES = ("redis", "dramatiq")


def require_queue(command: str, *, images: bool = False) -> None:
    """One line, exit 1, when a package of the ``queue`` extra is missing (boto3 only for ``--images``)."""
    for name in (*_QUEUE_PACKAGES, *(("boto3",) if images else ())):
        if importlib.util.find_spec(name) is None:
            raise click.ClickException(f"{command} needs {name}, which is not installed: {QUEUE_INSTALL_HINT}")


def ping_queue(url: str) -> None:
    """One line, exit 1, when the Redis at ``url`` does not answer."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except redis.RedisError as exc:
        raise click.ClickException(f"--queue {url} does not answer ({exc}): start Redis there, or pass the URL "
                                   f"of one that runs") from None


@settings_command("worker", WorkerSettings, absent=MOCK_ONLY_FLAGS, context_settings={"show_default": True})
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
    require_queue("t2i worker", images=bool(settings.images))
    from ..diffusion import DiffusersGenerator, require_backend

    try:
        require_backend()
    except MissingDependencyError as exc:
        raise click.ClickException(str(exc)) from None
    if settings.data_dir is not None:
        from ..cli import require_writable

        require_writable(settings.data_dir)
    ping_queue(settings.queue)
    import redis

    scratch = None
    if settings.data_dir is None:  # --images: this worker's own scratch space, removed on the way out
        scratch = settings.data_dir = Path(tempfile.mkdtemp(prefix="t2i-worker-scratch-"))
    quiet_known_noise()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        from .worker import GenerationWorker

        worker = GenerationWorker(settings, DiffusersGenerator.from_config(settings.backend_config()))
        worker.start()
    except (BackendError, ValueError) as exc:
        _remove(scratch)
        raise click.ClickException(str(exc)) from None
    except redis.RedisError as exc:
        _remove(scratch)
        raise click.ClickException(f"--queue {settings.queue} went away while the worker started ({exc})") from None
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    click.echo(f"t2i worker {settings.name} on {settings.queue} (models: {', '.join(worker.models)})", err=True)
    done.wait()
    click.echo(f"t2i worker {settings.name} stopping: the running job has {settings.shutdown_timeout:g} s to finish",
               err=True)
    stopped = worker.stop()
    _remove(scratch)
    if not stopped:
        # a generation thread is still inside torch: exiting normally would tear its threads down under it
        # (std::terminate); its job is already back in the queue
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _remove(folder: Path | None) -> None:
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
