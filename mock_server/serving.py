"""Serve the mock with gunicorn, from Python, for ``t2i mock``.

:class:`MockServer` is a gunicorn ``BaseApplication``: no config file, no command
line parsing of its own. Each worker builds its own app with ``create_app(config)``
after the fork (no ``preload``), so SQLite connections and the webhook thread are
never shared across processes; the SQLite file named by ``config.db_path`` is, and
that is how a fetch served by one worker finds a job another worker created.

Worker class: ``gthread`` when ``threads > 1`` (the default, 4), which keeps HTTP
connections alive and lets a simulated ``--latency`` sleep in one thread without
stalling the worker; gunicorn's ``sync`` worker with ``--threads 1``, the least work
per request, used for the benchmark (see the README's performance section).
"""
from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from .app import create_app
from .config import MockConfig

__all__ = ["MockServer", "serve"]


class MockServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, config: MockConfig, *, access_log: bool = False) -> None:
        self.mock_config = config
        self.options: dict[str, Any] = {
            "bind": f"{config.host}:{config.port}",
            "workers": config.workers,
            "worker_class": "gthread" if config.threads > 1 else "sync",
            "threads": config.threads,
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


def serve(config: MockConfig, *, access_log: bool = False) -> None:
    """Serve until interrupted. ``config.db_path`` must be set so every worker shares it."""
    if config.db_path is None:
        raise ValueError("serve() needs config.db_path: the SQLite file every worker shares")
    MockServer(config, access_log=access_log).run()
