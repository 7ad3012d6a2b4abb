"""``t2i serve`` and ``t2i make-tiny-model``.

Their options are the fields of :class:`BackendConfig` and :class:`TinyModelSettings`,
each also read from ``T2I_SERVE_<OPTION>`` (``T2I_SERVE_PORT``, ...). ``t2i serve`` runs on
granian (``serving.py``): one process in embedded mode, on purpose (the loaded pipelines
and worker threads live in its memory); with ``--queue``, an API process of the
distributed mode that loads no model, any number of them beside ``t2i worker`` processes.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
from pathlib import Path

import click

from t2i_contract.protocol.ports import PortTaken, claim_port
from t2i_contract.protocol.settings import check_contracts
from t2i_contract.spec.options import settings_command

from .config import MOCK_ONLY_FLAGS, BackendConfig, TinyModelSettings
from .errors import BackendError, MissingDependencyError
from .progress import step_bar

__all__ = ["make_tiny_model_command", "require_writable", "serve_command"]


def _require_backend() -> None:
    from .diffusion import require_backend

    try:
        require_backend()
    except MissingDependencyError as exc:
        raise click.ClickException(str(exc)) from None


@settings_command("serve", BackendConfig, absent=MOCK_ONLY_FLAGS, context_settings={"show_default": True})
def serve_command(config: BackendConfig) -> None:
    """Serve the text2img API with real diffusers pipelines and multi-LoRA.

    Start with a model from `t2i make-tiny-model DIR`:

        t2i serve --models DIR/models --loras DIR/loras --vaes DIR/vaes
    """
    if config.models_dir is None and not config.queue:
        raise click.UsageError("t2i serve needs --models DIR (or T2I_SERVE_MODELS), or --queue URL to run an API "
                               "process of the distributed mode")
    if config.queue and config.data_dir is None:
        raise click.UsageError("t2i serve --queue needs --data DIR (or T2I_SERVE_DATA): the images folder it shares "
                               "with the t2i worker processes")
    check_contracts(config.contract)
    try:
        claim = claim_port(config.host, config.port)  # before any model is looked at; held while serving
    except PortTaken as exc:
        raise click.ClickException(str(exc)) from None
    try:
        if config.queue:
            from .distributed.cli import require_queue

            require_queue("t2i serve --queue", images=bool(config.images))
        else:
            _require_backend()
        from .quiet import quiet_known_noise
        from .serving import preflight, serve

        quiet_known_noise()
        if config.data_dir is not None:
            require_writable(config.data_dir)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        try:
            preflight(config)
        except (BackendError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
    except BaseException:
        claim.release()  # refused before serving, whatever refused it: the port is free again, its socket closed
        raise
    mode = f"queue: {config.queue}" if config.queue else f"models: {config.models_dir}"
    click.echo(f"t2i reference backend on http://{config.host}:{config.port}/ "
               f"({mode}, keys: {len(config.keys) or 'any'})", err=True)
    temporary = None
    if config.data_dir is None:  # made here, where SIGTERM ends serve(), so it is removed on every exit
        temporary = Path(tempfile.mkdtemp(prefix="t2i-backend-"))
        config = dataclasses.replace(config, data_dir=temporary)
    try:
        serve(config)
    finally:
        claim.release()
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)


def require_writable(folder: Path) -> None:
    """A folder the command writes into, made if need be; one line and exit 1 when it cannot be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as exc:
        raise click.ClickException(f"cannot write into {folder} ({exc.strerror or exc}): pass a folder you can "
                                   f"write") from None


@settings_command("make-tiny-model", TinyModelSettings, context_settings={"show_default": True})
def make_tiny_model_command(settings: TinyModelSettings) -> None:
    """Write tiny random SD 1.5, SDXL and FLUX.1 models, their LoRAs, a VAE and IP-Adapters to DIRECTORY.

    No download: everything is built from configs with random weights, in seconds.
    """
    _require_backend()
    from .quiet import quiet_known_noise
    from .tiny import TINY_FAMILY_LORAS, TINY_FAMILY_MODELS, TINY_STEPS, make_tiny_model, tiny_ip_adapters

    quiet_known_noise()
    require_writable(settings.directory)
    with step_bar("t2i make-tiny-model", 1 + len(TINY_STEPS), quiet=not settings.progress) as step:
        step("importing torch, diffusers and transformers")  # a few seconds on their own
        tiny = make_tiny_model(settings.directory, seed=settings.seed, step=step)
    click.echo(f"models {', '.join(TINY_FAMILY_MODELS.values())} and the inpainting checkpoint "
               f"{tiny.inpaint_model_id} in {tiny.models_dir}, and {tiny.model_id} as one file: {tiny.single_file_id}")
    click.echo(f"LoRAs {', '.join(lora for loras in TINY_FAMILY_LORAS.values() for lora in loras)} in {tiny.loras_dir}")
    click.echo(f"VAE {tiny.vae_id} in {tiny.vaes_dir}")
    adapters = [adapter for ids in tiny_ip_adapters().values() for adapter in ids]
    click.echo(f"IP-Adapters {', '.join(adapters)} in {tiny.ip_adapters_dir}")
    click.echo(f"serve it: t2i serve --models {tiny.models_dir} --loras {tiny.loras_dir} --vaes {tiny.vaes_dir} "
               f"--ip-adapters {tiny.ip_adapters_dir}")
