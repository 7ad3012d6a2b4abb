"""Settings every server of the protocol has, declared once.

A server's settings dataclass (``MockConfig``, ``BackendConfig``) calls these in its
field declarations, so a shared option has one name, one help text and one type
everywhere; only a default a server chooses on purpose is passed in (the mock retries
sooner, for quick feedback in client tests). ``spec/options.py`` turns each field into
its flag and ``T2I_<COMMAND>_<OPTION>`` variable.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import click

from t2i_contract.spec.options import setting, split_commas
from t2i_contract.spec import Spec, SpecError
from t2i_contract.spec.packs import DEFAULT_CONTRACT, load_contract

__all__ = ["DEFAULT_RETRY_AFTER", "DEFAULT_WEBHOOK_ATTEMPTS", "check_contracts", "contracts", "load_contracts", "max_store_bytes",
           "max_queued", "parse_public_url", "private_urls", "public_url", "retry_after", "url_allow", "webhook_attempts", "webhook_backoff",
           "webhook_timeout"]

#: Delivery attempts in all, the same on every server, so webhook_status reads alike.
DEFAULT_WEBHOOK_ATTEMPTS = 3
#: Seconds a 429 tells the client to wait, the same on every server.
DEFAULT_RETRY_AFTER = 30


def contracts() -> Any:
    return setting((DEFAULT_CONTRACT,), parse=split_commas, metavar="NAME|FILE,...", default_text=DEFAULT_CONTRACT,
                   help="The contracts to serve, side by side on one port: pack names (t2i contracts lists "
                        "them) or documents with x-t2i hints, separated with commas.")


def load_contracts(names: tuple[str, ...] | list[str]) -> list[Spec]:
    """The documents ``--contract`` names, in order, each once (the default pack when none is named)."""
    return [load_contract(name) for name in dict.fromkeys(names or (DEFAULT_CONTRACT,))]


def check_contracts(names: tuple[str, ...] | list[str]) -> None:
    """``--contract`` checked in the command, before serving: a usage error (exit 2) naming the value, not a
    server worker that dies at start-up with a traceback."""
    try:
        load_contracts(names)
    except SpecError as exc:
        raise click.BadParameter(str(exc), param_hint="'--contract'") from None


def max_store_bytes(default: int) -> Any:
    return setting(default, type=click.IntRange(1024),
                   help="Bytes all kept jobs may take together, their images included (input images kept as "
                        "sent); beyond it the oldest are dropped first and their space given back (the reference "
                        "backend never drops a job it has not finished). A dropped job's fetch answers 404.")


def max_queued() -> Any:
    return setting(0, type=click.IntRange(0),
                   help="Unfinished generations one key may have before the next gets 429 with retry_after; "
                        "0 means no limit.")


def parse_public_url(text: str) -> str:
    """``--public-url``: an http(s) URL with a host (and no query), without its trailing slash."""
    url = str(text).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"public URL must be an http or https URL with a host, such as "
                         f"https://images.example.com, got {url!r}")
    return url.rstrip("/")


def public_url() -> Any:
    return setting(None, parse=parse_public_url, metavar="URL", default_text="the URL each request came in on",
                   help="Base URL clients reach the server on (behind a proxy, say): image and fetch links are "
                        "built on it, and its host is a name of the server's own (the mock's /__mock answers "
                        "it as it answers loopback).")


def private_urls(default: str) -> Any:
    return setting(default, type=click.Choice(("allow", "deny"), case_sensitive=False), metavar="allow|deny",
                   help="Whether webhooks and input images may reach loopback, private and shared (CGNAT) "
                        "addresses. Link-local and metadata addresses are refused either way, unless in "
                        "--url-allow.")


def retry_after() -> Any:
    return setting(DEFAULT_RETRY_AFTER, type=click.IntRange(0),
                   help="Seconds a 429 answer tells the client to wait (Retry-After and retry_after).")


def url_allow() -> Any:
    return setting((), parse=split_commas, repeatable=True, metavar="HOST|CIDR,...",
                   help="Hosts or address ranges the server may always contact for webhooks and input images, "
                        "link-local ones included. Repeat the flag or separate with commas: the values add up.")


def webhook_attempts() -> Any:
    return setting(DEFAULT_WEBHOOK_ATTEMPTS, type=click.IntRange(1),
                   help="Webhook delivery attempts in all, retried on non-2xx or network errors.")


def webhook_backoff(default: float) -> Any:
    return setting(default, type=click.FloatRange(0),
                   help="Seconds before the first webhook retry; doubles on each further one.")


def webhook_timeout(default: float) -> Any:
    return setting(default, type=click.FloatRange(min=0, min_open=True),
                   help="Seconds to wait for a webhook receiver's answer, per attempt.")
