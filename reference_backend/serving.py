"""Serve ``t2i serve`` on granian, a real multi-threaded WSGI server (issue 13).

The app is built inside granian's worker process by :func:`granian_app`, from the
settings the serving process put in ``T2I_SERVE_SERVING_CONFIG``
(:func:`t2i_contract.protocol.serving.serve_granian`). Embedded mode runs exactly
one granian worker on purpose: the loaded pipelines, their LoRA cache and the
generation threads live in that process, and the HTTP threads only parse requests
and wait on the job store. In distributed mode (``--queue``) an API process holds
no model; run more of them (or put several behind a load balancer) to scale.
"""
from __future__ import annotations

import logging
import os

from flask import Flask

from t2i_contract.protocol.serving import serve_granian, settings_from_env

from .config import BackendConfig

__all__ = ["CONFIG_ENV", "HTTP_THREADS", "LOG_FORMAT", "granian_app", "serve"]

CONFIG_ENV = "T2I_SERVE_SERVING_CONFIG"
HTTP_THREADS = 32
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
"""granian's blocking threads: a sync text2img holds one for up to --sync-timeout seconds."""


def granian_app() -> Flask:
    """The app factory granian's worker calls."""
    from .app import create_app
    from .quiet import quiet_known_noise

    quiet_known_noise()
    # this process's own log lines (a model loading, a webhook given up) on stderr, as in the serving process
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    return create_app(settings_from_env(BackendConfig, os.environ[CONFIG_ENV]))


def serve(config: BackendConfig) -> None:
    """Serve until SIGTERM or Ctrl-C."""
    serve_granian(f"{__name__}:granian_app", env_name=CONFIG_ENV, settings=config, host=config.host,
                  port=config.port, workers=1, threads=HTTP_THREADS, access_log=config.access_log)


def preflight(config: BackendConfig) -> None:
    """Fail in the serving process, with a message, on what would make granian's worker fail at start-up:
    a device torch does not see, a queue that does not answer. Loads no model."""
    if config.queue:
        from .distributed.api import preflight_queue

        preflight_queue(config)
        return
    from .diffusion import DiffusersGenerator

    DiffusersGenerator.from_config(config).close()
