"""Serve the mock from a real multi-process WSGI server, for ``t2i mock``.

Two servers, chosen with ``--server``:

- **granian** (the default): a Rust HTTP server with a WSGI interface. It keeps
  connections alive and parses HTTP outside the interpreter, which more than
  doubles the mock's throughput on two cores compared with gunicorn (see the
  README's performance section). Its workers are spawned from an import string,
  so the config travels to them as JSON in ``T2I_MOCK_SERVING_CONFIG`` and
  :func:`granian_app` rebuilds it there (``protocol/serving.py``, shared with ``t2i serve``).
  ``threads`` is granian's blocking-thread count per worker (``MockConfig.worker_threads``
  picks it when unset).
- **gunicorn**: :class:`MockServer` is a gunicorn ``BaseApplication``: no config file, no command
  line parsing of its own. Each worker builds its own app with ``create_app(config)``
after the fork (no ``preload``), so SQLite connections and the webhook thread are
never shared across processes; the SQLite file named by ``config.db_path`` is, and
that is how a fetch served by one worker finds a job another worker created.

Worker class: ``gthread`` when ``threads > 1`` (the default for gunicorn, 4), which keeps HTTP
connections alive and lets a simulated ``--latency`` sleep in one thread without
stalling the worker; gunicorn's ``sync`` worker with ``--threads 1``, the least work
per request, used for the benchmark (see the README's performance section).
"""
from __future__ import annotations

import os
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from t2i_contract.protocol.serving import serve_granian, settings_from_env

from .app import create_app
from .config import MockConfig

__all__ = ["CONFIG_ENV", "MockServer", "granian_app", "serve"]

CONFIG_ENV = "T2I_MOCK_SERVING_CONFIG"


class MockServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, config: MockConfig, *, access_log: bool = False) -> None:
        self.mock_config = config
        self.options: dict[str, Any] = {
            "bind": f"{config.host}:{config.port}",
            "workers": config.workers,
            "worker_class": "gthread" if config.worker_threads > 1 else "sync",
            "threads": config.worker_threads,
            "keepalive": 5,
            "graceful_timeout": 5,
            "timeout": 60,
            "accesslog": "-" if access_log else None,
            "errorlog": "-",
            "loglevel": "info",
            "proc_name": "t2i-mock",
            # gunicorn >= 24 opens a control socket at one fixed path per user; two mocks
            # (or a mock and another gunicorn) would fight over it.
            "control_socket_disable": True,
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if value is not None and key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Any:
        return create_app(self.mock_config)


def granian_app() -> Flask:
    """The app factory granian's workers call: the config comes from the serving process."""
    return create_app(settings_from_env(MockConfig, os.environ[CONFIG_ENV]))


def _serve_granian(config: MockConfig, *, access_log: bool) -> None:
    serve_granian(f"{__name__}:granian_app", env_name=CONFIG_ENV, settings=config, host=config.host,
                  port=config.port, workers=config.workers, threads=config.worker_threads, access_log=access_log)


def serve(config: MockConfig, *, access_log: bool = False) -> None:
    """Serve until interrupted. ``config.db_path`` must be set so every worker shares it."""
    if config.db_path is None:
        raise ValueError("serve() needs config.db_path: the SQLite file every worker shares")
    if config.server == "granian":
        _serve_granian(config, access_log=access_log)
    else:
        MockServer(config, access_log=access_log).run()
