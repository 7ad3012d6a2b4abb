"""``t2i serve`` and ``t2i make-tiny-model``.

Every option reads an environment variable too (``T2I_SERVE_PORT``, ...), through
the ``T2I`` prefix the ``t2i`` command runs with. The server is werkzeug's threaded
WSGI server in one process, on purpose: the loaded pipelines, their LoRA cache and
the worker threads live in that process's memory, and the HTTP threads only parse
requests and wait on the job store. Several processes (gunicorn workers) would
each load every model and run their own workers against one SQLite file.
"""
from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import Any

import click

from .config import (
    DEFAULT_HOST,
    DEFAULT_MAX_QUEUED,
    DEFAULT_PORT,
    DEFAULT_SYNC_TIMEOUT,
    DEFAULT_TEMP_TTL,
    DEFAULT_WEBHOOK_RETRIES,
    DEFAULT_WORKERS,
    DTYPES,
    BackendConfig,
)
from .errors import BackendError, MissingDependencyError

__all__ = ["make_tiny_model_command", "serve_command"]

_DIR = click.Path(file_okay=False, path_type=Path)
_EXISTING_DIR = click.Path(file_okay=False, exists=True, path_type=Path)


def _require_backend() -> None:
    from .diffusion import require_backend

    try:
        require_backend()
    except MissingDependencyError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("serve")
@click.option("--models", type=_EXISTING_DIR, required=True, show_envvar=True,
              help="Folder of models: diffusers folders <id>/ or single files <id>.safetensors.")
@click.option("--loras", type=_EXISTING_DIR, show_envvar=True,
              help="Folder of LoRA files <id>.safetensors (diffusers/peft or kohya/A1111 keys).")
@click.option("--vaes", type=_EXISTING_DIR, show_envvar=True, help="Folder of VAE folders <id>/.")
@click.option("--data", type=_DIR, show_envvar=True,
              help="Where the SQLite job store and the images live (default: a new temporary folder).")
@click.option("--keys", default="", show_envvar=True,
              help="Comma-separated API keys to accept; without it any non-empty key is accepted.")
@click.option("--host", default=DEFAULT_HOST, show_default=True, show_envvar=True)
@click.option("--port", default=DEFAULT_PORT, type=click.IntRange(0, 65535), show_default=True, show_envvar=True)
@click.option("--public-url", default=None, show_envvar=True,
              help="Base URL for image and fetch links (default: the URL each request came in on).")
@click.option("--device", default="cpu", show_default=True, show_envvar=True, help="torch device: cpu, cuda, cuda:1...")
@click.option("--dtype", type=click.Choice(DTYPES), default="float32", show_default=True, show_envvar=True)
@click.option("--workers", default=DEFAULT_WORKERS, type=click.IntRange(1), show_default=True, show_envvar=True,
              help="Generation worker threads (one pipeline runs one generation at a time).")
@click.option("--sync-timeout", default=DEFAULT_SYNC_TIMEOUT, type=click.FloatRange(0), show_default=True,
              show_envvar=True, help="Seconds text2img waits for the result before answering processing.")
@click.option("--temp-ttl", default=DEFAULT_TEMP_TTL, type=click.FloatRange(0), show_default=True,
              show_envvar=True, help="Seconds that images of temp requests are kept.")
@click.option("--webhook-retries", default=DEFAULT_WEBHOOK_RETRIES, type=click.IntRange(0), show_default=True,
              show_envvar=True)
@click.option("--max-queued", default=DEFAULT_MAX_QUEUED, type=click.IntRange(0), show_default=True,
              show_envvar=True, help="Generations waiting per key before 429; 0 means no limit.")
@click.option("--threads", default=None, type=click.IntRange(1), show_envvar=True,
              help="torch CPU threads (default: torch's choice).")
def serve_command(keys: str, models: Path, loras: Path | None, vaes: Path | None, data: Path | None,
                  threads: int | None, **options: Any) -> None:
    """Serve the text2img API with real diffusers pipelines and multi-LoRA.

    Start with a model from `t2i make-tiny-model DIR`:

        t2i serve --models DIR/models --loras DIR/loras --vaes DIR/vaes
    """
    _require_backend()
    from werkzeug.serving import make_server

    from .app import EXTENSION, create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = BackendConfig(keys=tuple(k.strip() for k in keys.split(",")), models_dir=models, loras_dir=loras,
                               vaes_dir=vaes, data_dir=data, torch_threads=threads, **options)
        app = create_app(config)
    except (BackendError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    server = make_server(config.host, config.port, app, threaded=True)
    service = app.extensions[EXTENSION]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # unwinds serve_forever into the finally below
    click.echo(f"t2i reference backend on http://{config.host}:{server.server_port}/ "
               f"(models: {config.models_dir}, keys: {len(config.keys) or 'any'})", err=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
        service.stop()


@click.command("make-tiny-model")
@click.argument("directory", type=_DIR)
@click.option("--seed", default=0, show_default=True, show_envvar=True, help="Seed of the random weights.")
def make_tiny_model_command(directory: Path, seed: int) -> None:
    """Write a tiny random Stable Diffusion model, a VAE and three LoRAs to DIRECTORY.

    No download: everything is built from configs with random weights, in seconds.
    """
    _require_backend()
    from .tiny import make_tiny_model

    tiny = make_tiny_model(directory, seed=seed)
    click.echo(f"model {tiny.model_id} in {tiny.models_dir}, and the same as one file: {tiny.single_file_id}")
    click.echo(f"LoRAs {', '.join(tiny.lora_ids)} in {tiny.loras_dir}")
    click.echo(f"VAE {tiny.vae_id} in {tiny.vaes_dir}")
    click.echo(f"serve it: t2i serve --models {tiny.models_dir} --loras {tiny.loras_dir} --vaes {tiny.vaes_dir}")
