"""Who may use the mock's ``/__mock/`` endpoints, and which journal entries each caller sees.

Two rules, both checked before any ``/__mock/`` route runs (``routes.py``):

- **The Host rule.** A ``/__mock/`` request is answered only when its ``Host`` header
  names the mock itself: a loopback name or address (``localhost``, ``*.localhost``,
  ``127.0.0.0/8``, ``[::1]``), the address the mock listens on (``--host``, unless a
  wildcard) or the host of ``--public-url`` (the name clients reach it on behind a proxy, which
  also heads its links). Anything else is a 403 naming the Host, so a page on ``evil.example``
  whose name an attacker re-points at 127.0.0.1 (DNS rebinding) can neither read the
  journal nor change the behaviour, even though the browser thinks it is same-origin.
- **Ownership.** Without ``--keys`` the mock is a developer's own tool: every caller
  sees everything. With ``--keys``, a ``/__mock/`` call needs a key (``Authorization:
  Bearer``, ``X-API-Key`` or ``?key=``), and a key is shown only the journal entries
  made with it, as fetch shows only its own jobs; ``--admin-key`` is the operator's
  credential, which sees and clears every entry and is accepted nowhere else (never
  as an API key). With ``--admin-key`` and no ``--keys``, only the operator may use them.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Request

from t2i_contract.protocol import AuthError, KeyRing, ProtocolError
from t2i_contract.protocol.ownership import KeyHasher
from t2i_contract.spec import Problem

from .config import MockConfig

__all__ = ["Viewer", "WrongHost", "check_host", "offered_keys", "own_names", "viewer_of"]

_WILDCARDS = frozenset({"", "0.0.0.0", "::", "[::]"})


class WrongHost(ProtocolError):
    """403: a ``/__mock/`` call whose Host is not the mock's own (DNS rebinding)."""

    code = "host"
    status = 403

    def __init__(self, host: str) -> None:
        message = (f"Host must name this mock (localhost, a loopback address, its --host or the host of its "
                   f"--public-url) for /__mock, got {host!r}")
        super().__init__(message, (Problem("Host", "own_host", message, host),))


def _host_name(header: str) -> str:
    """The host of a Host header, without port, brackets or trailing dot, lower case."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0].rstrip(".") if header.count(":") == 1 else header.rstrip(".")


def _is_loopback(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def own_names(config: MockConfig) -> frozenset[str]:
    """The names besides loopback that a ``/__mock`` request's Host may give: ``--host`` (unless a
    wildcard) and the host of ``--public-url``, as :func:`_host_name` writes them."""
    names = {_host_name(config.host)} - _WILDCARDS
    if config.public_url:
        names.add((urlsplit(config.public_url).hostname or "").rstrip("."))
    return frozenset(names - {""})


def check_host(incoming: Request, config: MockConfig) -> None:
    """Raise :class:`WrongHost` unless the request's Host names the mock itself."""
    header = incoming.headers.get("Host", "")
    if not header:  # HTTP/1.0 without a Host: no browser sends that, and rebinding needs a browser
        return
    name = _host_name(header)
    if _is_loopback(name) or name in own_names(config):
        return
    raise WrongHost(header)


def offered_keys(incoming: Request) -> list[str]:
    """Every key an admin request carries, wherever a client puts one."""
    offered = [incoming.headers.get("X-API-Key", ""), incoming.args.get("key", "")]
    scheme, _, credentials = incoming.headers.get("Authorization", "").partition(" ")
    offered.append(credentials.strip() if scheme.lower() == "bearer" else scheme)
    return [key for key in offered if key]


@dataclass(frozen=True)
class Viewer:
    """Who is asking: ``owner`` is the digest of their key (None: they see every entry)."""

    owner: str | None
    admin: bool


def viewer_of(incoming: Request, keys: KeyRing, admin: KeyRing, owners: KeyHasher) -> Viewer:
    """The caller of a ``/__mock/`` route, or :class:`AuthError` when the mock has keys and none matches."""
    offered = offered_keys(incoming)
    if admin and any(admin.matches(key) for key in offered):
        return Viewer(owner=None, admin=True)
    for key in offered if keys else ():
        if keys.matches(key):
            return Viewer(owner=owners.digest(key), admin=False)
    if keys or admin:  # with --admin-key alone, the journal is the operator's
        raise AuthError()
    return Viewer(owner=None, admin=True)
