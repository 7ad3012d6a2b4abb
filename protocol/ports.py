"""One port, one server: every server command claims its port before its server starts.

granian binds with ``SO_REUSEPORT`` (in every worker), so a second server on a port
already in use would start without complaint and the kernel would split connections
between two unrelated servers; a probe alone cannot stop that either, because two
servers started together both find the port free before either binds.

:func:`claim_port` does two things, in this order, and the command holds the returned
:class:`PortClaim` for its whole life:

1. it holds a per-port name (an abstract Unix socket on Linux, a lock file elsewhere),
   so of two ``t2i`` servers started together, or one while the other is still loading
   or binding, exactly one goes on; the kernel drops the name when the process dies,
   however it dies (its workers die with it: ``serving.py``);
2. :func:`check_free` binds a probe socket without ``SO_REUSEPORT`` (``SO_REUSEADDR``
   only, so a port left in TIME-WAIT by a stopped server is still usable), which fails
   when anything else listens there.

Either failure is a :class:`PortTaken`, whose message is the one line a command prints
before exiting non-zero. (Another program that binds the same port later with
``SO_REUSEPORT``, as the same user, is its own choice; Linux refuses it to other users.)
"""
from __future__ import annotations

import fcntl
import os
import socket
import sys
import tempfile
from pathlib import Path

__all__ = ["PortClaim", "PortTaken", "check_free", "claim_port"]


class PortTaken(OSError):
    """The address is in use or cannot be bound; ``str()`` names host and port in one line."""


def check_free(host: str, port: int) -> None:
    """Raise :class:`PortTaken` unless a server could listen on ``host:port`` now."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise PortTaken(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


class PortClaim:
    """A held port: the claim is released by :meth:`release` or when the process (and its workers) end."""

    def __init__(self, port: int, holder: socket.socket | int | None) -> None:
        self.port = port
        self._holder = holder

    def release(self) -> None:
        if isinstance(self._holder, socket.socket):
            self._holder.close()
        elif self._holder is not None:
            os.close(self._holder)
        self._holder = None

    def __enter__(self) -> PortClaim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _hold(port: int) -> socket.socket | int | None:
    """An exclusive hold on ``port`` among t2i servers, or None when another one has it.

    On Linux, an abstract Unix socket named after the port: no file is left anywhere,
    and the kernel frees the name when the last process holding it ends. Elsewhere, an
    ``flock`` on a lock file in the temporary folder.
    """
    if sys.platform.startswith("linux"):
        holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            holder.bind(f"\0t2i-contract-port-{port}")
        except OSError:
            holder.close()
            return None
        return holder
    path = Path(tempfile.gettempdir()) / f"t2i-port-{port}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def claim_port(host: str, port: int) -> PortClaim:
    """Claim ``host:port`` for this process, or raise :class:`PortTaken` naming it in one line.

    One claim per port, whatever the host: a wildcard host clashes with every other one.
    """
    if port == 0:  # the kernel picks a free port: nothing to share
        check_free(host, port)
        return PortClaim(port, None)
    holder = _hold(port)
    if holder is None:
        raise PortTaken(f"cannot listen on {host}:{port}: address already in use by another t2i server")
    claim = PortClaim(port, holder)
    try:
        check_free(host, port)
    except PortTaken:
        claim.release()
        raise
    return claim
