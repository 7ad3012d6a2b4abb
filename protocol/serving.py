"""Serve a Flask app factory on granian, a real multi-threaded WSGI server, for every server command.

granian spawns its worker processes from an import string, so a server's settings
cannot be handed to them as an object: :func:`settings_to_env` writes the settings
dataclass as JSON into an environment variable the workers inherit, and
:func:`settings_from_env` rebuilds it there (lists become tuples again, path fields
``Path`` again). The app is built inside each worker, never before the spawn, so
threads, sockets and database connections are born where they are used.

No worker outlives its server: granian's workers are its children, and a parent killed
with SIGKILL cannot stop them, so each worker asks the kernel to kill it when its
parent dies (``PR_SET_PDEATHSIG``, Linux), and exits at once if the parent is already
gone; the port is then free for a restart at once. :func:`serve_granian` gives granian
:func:`worker_app` as the target, which does that before calling the server's factory.
"""
from __future__ import annotations

import ctypes
import dataclasses
import importlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["die_with_parent", "serve_granian", "settings_from_env", "settings_to_env", "worker_app"]

S = TypeVar("S")
TARGET_ENV = "T2I_SERVING_TARGET"
PARENT_ENV = "T2I_SERVING_PARENT"
_PR_SET_PDEATHSIG = 1


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
    os.environ[TARGET_ENV] = target
    os.environ[PARENT_ENV] = str(os.getpid())
    Granian(
        target=f"{__name__}:worker_app",
        factory=True,
        interface=Interfaces.WSGI,
        address=host,
        port=port,
        workers=workers,
        blocking_threads=threads,
        log_access=access_log,
        websockets=False,
    ).serve()


def die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when its parent dies; exit now if ``parent`` is already gone."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # it died before the request above was made
        os._exit(1)


def worker_app() -> Any:
    """The factory granian's workers call: bound to the server's life, then the server's own factory."""
    die_with_parent(int(os.environ[PARENT_ENV]))
    module, _, name = os.environ[TARGET_ENV].partition(":")
    return getattr(importlib.import_module(module), name)()
