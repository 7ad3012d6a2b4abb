"""Is a listening address free? One check for every server command, before its server starts.

granian binds with ``SO_REUSEPORT``: a second server on a port already in use would
start without complaint, and the kernel would then split connections between two
unrelated servers; on an address in use it otherwise answers with a Python traceback
and a page of Rust panic. :func:`check_free` binds a probe socket first, without
``SO_REUSEPORT`` (``SO_REUSEADDR`` only, so a port left in TIME-WAIT by a stopped
server is still usable), and raises :class:`PortTaken`, whose message is the one line
a command prints before exiting non-zero.
"""
from __future__ import annotations

import socket

__all__ = ["PortTaken", "check_free"]


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
