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

granian starts every request's WSGI environ from a copy of the worker's ``os.environ``,
so a process variable named like request data (``HTTP_PROXY``, ``HTTP_PREFER``,
``CONTENT_TYPE``: "httpoxy") would read as a header of every request that lacks it.
:func:`worker_app` drops those names from the worker's environment after the app is
built and before granian takes its copy (:func:`drop_request_names`).
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

__all__ = ["die_with_parent", "drop_request_names", "serve_granian", "settings_from_env", "settings_to_env",
           "worker_app"]

S = TypeVar("S")
TARGET_ENV = "T2I_SERVING_TARGET"
PARENT_ENV = "T2I_SERVING_PARENT"
_PR_SET_PDEATHSIG = 1
#: RFC 3875's meta-variables: in a WSGI environ they describe the request, never the process.
CGI_NAMES = frozenset({
    "AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE", "GATEWAY_INTERFACE", "PATH_INFO", "PATH_TRANSLATED",
    "QUERY_STRING", "REMOTE_ADDR", "REMOTE_HOST", "REMOTE_IDENT", "REMOTE_USER", "REQUEST_METHOD", "SCRIPT_NAME",
    "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "SERVER_SOFTWARE",
})


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


def drop_request_names(environ: Any = os.environ) -> list[str]:
    """Remove the variables a WSGI environ would read as request data (``HTTP_*``, CGI's); their names."""
    names = sorted(name for name in environ if name.startswith("HTTP_") or name in CGI_NAMES)
    for name in names:
        del environ[name]
    return names


def worker_app() -> Any:
    """The factory granian's workers call: bound to the server's life, then the server's own factory.

    The request names are dropped once the app is built (granian copies the environment right after).
    """
    die_with_parent(int(os.environ[PARENT_ENV]))
    module, _, name = os.environ[TARGET_ENV].partition(":")
    app = getattr(importlib.import_module(module), name)()
    drop_request_names()
    return app
