"""``t2i serve`` and ``t2i make-tiny-model``.

Their options are the fields of :class:`BackendConfig` and :class:`TinyModelSettings`,
each also read from ``T2I_SERVE_<OPTION>`` (``T2I_SERVE_PORT``, ...). The server is werkzeug's threaded
WSGI server in one process, on purpose: the loaded pipelines, their LoRA cache and
the worker threads live in that process's memory, and the HTTP threads only parse
requests and wait on the job store. Several processes (gunicorn workers) would
each load every model and run their own workers against one SQLite file.
"""
from __future__ import annotations

import logging
import signal
import sys

import click

from t2i_contract.spec.options import settings_command

from .config import BackendConfig, TinyModelSettings
from .errors import BackendError, MissingDependencyError

__all__ = ["make_tiny_model_command", "serve_command"]


def _require_backend() -> None:
    from .diffusion import require_backend

    try:
        require_backend()
    except MissingDependencyError as exc:
        raise click.ClickException(str(exc)) from None


@settings_command("serve", BackendConfig, context_settings={"show_default": True})
def serve_command(config: BackendConfig) -> None:
    """Serve the text2img API with real diffusers pipelines and multi-LoRA.

    Start with a model from `t2i make-tiny-model DIR`:

        t2i serve --models DIR/models --loras DIR/loras --vaes DIR/vaes
    """
    if config.models_dir is None:
        raise click.UsageError("t2i serve needs --models DIR (or T2I_SERVE_MODELS)")
    _require_backend()
    from werkzeug.serving import make_server

    from .app import EXTENSION, create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
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


@settings_command("make-tiny-model", TinyModelSettings, context_settings={"show_default": True})
def make_tiny_model_command(settings: TinyModelSettings) -> None:
    """Write tiny random SD 1.5, SDXL and FLUX.1 models, their LoRAs, a VAE and IP-Adapters to DIRECTORY.

    No download: everything is built from configs with random weights, in seconds.
    """
    _require_backend()
    from .tiny import TINY_FAMILY_LORAS, TINY_FAMILY_MODELS, make_tiny_model, tiny_ip_adapters

    tiny = make_tiny_model(settings.directory, seed=settings.seed)
    click.echo(f"models {', '.join(TINY_FAMILY_MODELS.values())} in {tiny.models_dir}, and {tiny.model_id} as one "
               f"file: {tiny.single_file_id}")
    click.echo(f"LoRAs {', '.join(lora for loras in TINY_FAMILY_LORAS.values() for lora in loras)} in {tiny.loras_dir}")
    click.echo(f"VAE {tiny.vae_id} in {tiny.vaes_dir}")
    adapters = [adapter for ids in tiny_ip_adapters().values() for adapter in ids]
    click.echo(f"IP-Adapters {', '.join(adapters)} in {tiny.ip_adapters_dir}")
    click.echo(f"serve it: t2i serve --models {tiny.models_dir} --loras {tiny.loras_dir} --vaes {tiny.vaes_dir} "
               f"--ip-adapters {tiny.ip_adapters_dir}")
