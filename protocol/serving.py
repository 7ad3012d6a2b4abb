"""Serve a Flask app factory on granian, a real multi-threaded WSGI server, for every server command.

granian spawns its worker processes from an import string, so a server's settings
cannot be handed to them as an object: :func:`settings_to_env` writes the settings
dataclass as JSON into an environment variable the workers inherit, and
:func:`settings_from_env` rebuilds it there (lists become tuples again, path fields
``Path`` again). The app is built inside each worker, never before the spawn, so
threads, sockets and database connections are born where they are used.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["serve_granian", "settings_from_env", "settings_to_env"]

S = TypeVar("S")


def settings_to_env(settings: Any) -> str:
    """The settings dataclass as JSON, paths as strings."""
    return json.dumps({name: str(value) if isinstance(value, Path) else value
                       for name, value in dataclasses.asdict(settings).items()})


def settings_from_env(cls: type[S], text: str) -> S:
    """Rebuild what :func:`settings_to_env` wrote: lists become tuples, path fields ``Path``."""
    values = json.loads(text)
    paths = {f.name for f in dataclasses.fields(cls) if "Path" in str(f.type)}  # type: ignore[arg-type]
    for name, value in values.items():
        if isinstance(value, list):
            values[name] = tuple(value)
        elif name in paths and value is not None:
            values[name] = Path(value)
    return cls(**values)


def serve_granian(target: str, *, env_name: str, settings: Any, host: str, port: int, workers: int = 1,
                  threads: int = 8, access_log: bool = False) -> None:
    """Serve ``target`` (``module:factory``, called with no argument in each worker) until interrupted.

    The factory reads its settings back with ``settings_from_env(cls, os.environ[env_name])``.
    """
    from granian import Granian
    from granian.constants import Interfaces

    os.environ[env_name] = settings_to_env(settings)
    Granian(
        target=target,
        factory=True,
        interface=Interfaces.WSGI,
        address=host,
        port=port,
        workers=workers,
        blocking_threads=threads,
        log_access=access_log,
        websockets=False,
    ).serve()
