"""The URL policy: which http(s) URLs a server may contact on a client's behalf.

Every outbound request of a server (webhook POSTs, input-image fetches) goes through
:meth:`UrlPolicy.check`, which returns a :class:`Target`: the URL taken apart, with
the addresses its host resolved to. The host is resolved once, every address is
checked, and :mod:`.outbound` connects only to those addresses, so a DNS answer that
changes between the check and the connection (DNS rebinding) changes nothing.

What is refused, unless allowed:

* a scheme other than ``http``/``https`` (in any case: ``HTTP://`` is fine), a URL
  with credentials (``user:pass@``), whitespace or control characters;
* loopback (127/8, ::1, ``localhost`` and ``*.localhost`` without asking DNS),
  private (10/8, 172.16/12, 192.168/16, fc00::/7, site-local fec0::/10) and
  carrier-grade NAT (100.64/10) addresses: ``allow_private`` opens these three;
* link-local (169.254/16 with the cloud metadata address 169.254.169.254, fe80::/10),
  unspecified (0/8, ::), multicast, and reserved/documentation/benchmark ranges:
  only an explicit ``allow`` entry opens these, ``allow_private`` never does.

An IPv4-mapped IPv6 address (``::ffff:a.b.c.d``) is dialled as its IPv4 address, so it
is judged as that. Every other form that carries an IPv4 address (NAT64
``64:ff9b::/96`` and ``64:ff9b:1::/48``, 6to4 ``2002::/16``, IPv4-compatible
``::a.b.c.d``, Teredo ``2001::/32``) is dialled as IPv6, to a translator that may
be anywhere: it is judged as what is dialled, its own category, opened only by an
``allow`` entry that holds that IPv6 address (never by the IPv4 one inside, never by
``allow_private``). Hosts are read the way browsers read them (WHATWG URL): ``127.1``, ``0``,
``0x7f000001``, ``2130706433``, ``0177.0.0.1``, a trailing dot and full-width
digits are all 127.0.0.1 (or 0.0.0.0), found without a resolver.

``allow`` entries are host names (matched exactly, ignoring case and a trailing
dot: every address of that host is then allowed) or addresses/CIDRs (``10.0.0.0/8``,
``127.0.0.1``, ``fd00::/8``). The servers fill them from ``--url-allow HOST|CIDR``
and ``--private-urls allow|deny`` (one option on every server, whose default each server
states: the mock allows, ``t2i serve`` denies); a refusal names the flags that would allow it.
"""
from __future__ import annotations

import ipaddress
import re
import socket
import threading
from dataclasses import dataclass, field
from typing import Callable, Sequence, Union
from urllib.parse import SplitResult, quote, urlsplit

from t2i_contract.spec.errors import show_value

from .outbound_errors import InvalidUrl, TooSlow, Unreachable, UrlRefused

__all__ = [
    "ALLOW_LIST_FLAG",
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_BYTES",
    "PRIVATE_URLS_FLAG",
    "Resolver",
    "Target",
    "UrlPolicy",
    "allows_private",
    "classify",
    "system_resolver",
]

PRIVATE_URLS_FLAG = "--private-urls"
"""``allow`` opens loopback, private and shared addresses to webhooks and input images; ``deny`` refuses them."""


def allows_private(private_urls: str) -> bool:
    """What a server's ``--private-urls`` value means for :attr:`UrlPolicy.allow_private`."""
    return private_urls.lower() == "allow"

ALLOW_LIST_FLAG = "--url-allow"
DEFAULT_DEADLINE = 10.0
"""Seconds one attempt may take in all: connecting, sending, and reading the whole answer."""
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
"""The largest response body a fetch accepts."""

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
Resolver = Callable[[str, int], Sequence[str]]
"""(host name, port) -> the addresses it resolves to, as text; raises OSError when it does not."""

_CATEGORIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("embedded_ipv4", "an IPv6 address carrying an IPv4 one (NAT64, 6to4, IPv4-compatible or Teredo), dialled "
     "as IPv6 through a translator", ("64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32")),
    ("loopback", "a loopback address", ("127.0.0.0/8", "::1/128")),
    ("unspecified", "an unspecified address", ("0.0.0.0/8", "::/128")),
    ("private", "a private address", ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fec0::/10")),
    ("shared", "a carrier-grade NAT address", ("100.64.0.0/10",)),
    ("link_local", "a link-local address (where cloud metadata services answer)", ("169.254.0.0/16", "fe80::/10")),
    ("multicast", "a multicast address", ("224.0.0.0/4", "ff00::/8")),
    ("reserved", "a reserved address", (
        "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
        "100::/64", "2001:db8::/32", "2001::/23")),
)
_RANGES: tuple[tuple[str, IPNetwork], ...] = tuple(
    (name, ipaddress.ip_network(cidr)) for name, _, cidrs in _CATEGORIES for cidr in cidrs)
_DESCRIPTIONS = {name: text for name, text, _ in _CATEGORIES}
PRIVATE_CATEGORIES = frozenset({"loopback", "private", "shared"})
"""What ``allow_private`` opens; every other category needs an explicit ``allow`` entry."""
_COMPATIBLE = ipaddress.ip_network("::/96")
_LOOPBACK_NAMES = ("127.0.0.1", "::1")


def system_resolver(host: str, port: int) -> tuple[str, ...]:
    """The operating system's answer for ``host``, each address once, in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return tuple(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


def classify(address: IPAddress) -> str | None:
    """The category an address falls in (``"loopback"``, ``"link_local"``...), or None if public.

    A mapped address (``::ffff:a.b.c.d``) is its IPv4 address; an IPv4-compatible one
    (``::a.b.c.d``) is ``embedded_ipv4``, like NAT64, 6to4 and Teredo addresses.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return classify(address.ipv4_mapped)
        if address in _COMPATIBLE and int(address) > 1:
            return "embedded_ipv4"
    for name, network in _RANGES:
        if address.version == network.version and address in network:
            return name
    return None if address.is_global else "reserved"


def _number(part: str) -> int | None:
    """One dot-separated part of a WHATWG IPv4 host: decimal, 0x-hex or 0-octal; None if not a number."""
    try:
        if part[:2].lower() == "0x":
            return int(part[2:] or "0", 16)
        if len(part) > 1 and part.startswith("0"):
            return int(part, 8)
        return int(part, 10) if part.isdigit() else None
    except ValueError:
        return None


def _ends_in_number(host: str) -> bool:
    last = host.split(".")[-1]
    return last.isdigit() or (last[:2].lower() == "0x" and all(c in "0123456789abcdefABCDEF" for c in last[2:]))


def _ipv4_literal(host: str) -> ipaddress.IPv4Address | None:
    """``host`` as browsers read an IPv4 host (``127.1``, ``0x7f000001``...), None if it is a name.

    Raises ValueError when it ends in a number but is no valid address (``1.2.3.4.5``, ``256.0.0.1``).
    """
    if not _ends_in_number(host):
        return None
    parts = host.split(".")
    numbers = [_number(part) for part in parts]
    if len(parts) > 4 or any(n is None for n in numbers):
        raise ValueError(f"{host} is not a valid IPv4 address")
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise ValueError(f"{host} is out of range for an IPv4 address")
    value = values[-1] + sum(n << (8 * (3 - i)) for i, n in enumerate(values[:-1]))
    return ipaddress.IPv4Address(value)


def _connectable(address: IPAddress) -> str:
    """The address to connect to: a mapped IPv6 address is dialled as its IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect and what to ask for there."""

    url: str
    scheme: str
    host: str
    """The host as it goes into the Host header and TLS SNI (lower case, IDNA, no brackets or trailing dot)."""
    port: int
    path: str
    """The request target: path and query, percent-encoded, never empty."""
    addresses: tuple[str, ...]
    """Every address the host resolved to, all checked; connections go only to these."""


@dataclass(frozen=True)
class UrlPolicy:
    """Which URLs may be contacted, and the default limits of one attempt.

    ``resolver`` is a seam: tests inject one to check addresses such as 10.0.0.1
    without a DNS lookup and without ever sending a packet.
    """

    allow_private: bool = False
    allow: tuple[str, ...] = ()
    deadline: float = DEFAULT_DEADLINE
    max_bytes: int = DEFAULT_MAX_BYTES
    resolver: Resolver = field(default=system_resolver, compare=False, repr=False)
    _networks: tuple[IPNetwork, ...] = field(init=False, repr=False, compare=False)
    _names: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        networks: list[IPNetwork] = []
        names: set[str] = set()
        for entry in self.allow:
            text = entry.strip().strip("[]")
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                host = _normalise_name(text)
                if not host or "/" in host or any(c.isspace() for c in host):
                    raise ValueError(f"{ALLOW_LIST_FLAG} {entry!r} is neither a host name nor an "
                                     "address/CIDR") from None
                names.add(host)
        if self.deadline <= 0 or self.max_bytes <= 0:
            raise ValueError("the URL policy's deadline and max_bytes must be positive")
        object.__setattr__(self, "_networks", tuple(networks))
        object.__setattr__(self, "_names", frozenset(names))

    def check(self, url: str, *, field: str = "url", timeout: float | None = None) -> Target:
        """Take ``url`` apart, resolve its host once and check every address; raise if refused.

        Raises :class:`InvalidUrl` (not a usable URL), :class:`UrlRefused` (scheme or an
        address refused, naming the flag that would allow it), :class:`Unreachable`
        (the host does not resolve) or :class:`TooSlow` (no answer within ``timeout`` s,
        by default the policy's ``deadline``).
        """
        parts = _split(url, field)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise UrlRefused(field, url, f"{field} {show_value(url)} is refused: only http:// and https:// "
                             f"URLs can be contacted, not {scheme or 'a URL without scheme'}")
        host = _host(parts.hostname or "", url, field)
        port = _port(parts, url, field)
        addresses, is_name = self._addresses(host, port, url, field, timeout or self.deadline)
        if not (is_name and host in self._names):
            for address in addresses:
                self._check_address(address, host if is_name else "", url, field)
        if not is_name:
            host = str(addresses[0])  # canonical, for the Host header and SNI: 127.1 is 127.0.0.1
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return Target(url=url, scheme=scheme, host=host, port=port, path=quote(path, safe=_SAFE),
                      addresses=tuple(dict.fromkeys(_connectable(a) for a in addresses)))

    def _addresses(self, host: str, port: int, url: str, field: str,
                   timeout: float) -> tuple[tuple[IPAddress, ...], bool]:
        """The addresses to check and connect to, and whether ``host`` is a name (not a literal)."""
        try:
            literal = _literal(host)
        except ValueError as exc:
            raise InvalidUrl(field, url, f"{field} {show_value(url)} has an invalid host: {exc}") from None
        if literal is not None:
            return (literal,), False
        if host == "localhost" or host.endswith(".localhost"):
            return tuple(ipaddress.ip_address(a) for a in _LOOPBACK_NAMES), True
        try:
            answers = _resolve_within(self.resolver, host, port, timeout)
            resolved = tuple(ipaddress.ip_address(a.split("%")[0]) for a in answers)
        except TimeoutError:
            raise TooSlow(field, url, f"{field} {show_value(url)} is too slow: host {host} did not resolve "
                          f"within the deadline") from None
        except (OSError, UnicodeError, ValueError) as exc:
            raise Unreachable(field, url, f"{field} {show_value(url)} is unreachable: "
                              f"host {host} does not resolve ({exc})") from None
        if not resolved:
            raise Unreachable(field, url, f"{field} {show_value(url)} is unreachable: host {host} has no address")
        return resolved, True

    def _allowed_explicitly(self, address: IPAddress) -> bool:
        """Whether an ``allow`` range holds the address as dialled (a mapped one: its IPv4 address too)."""
        forms = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            forms.append(address.ipv4_mapped)
        return any(a.version == n.version and a in n for a in forms for n in self._networks)

    def _check_address(self, address: IPAddress, name: str, url: str, field: str) -> None:
        """Raise :class:`UrlRefused` unless ``address`` may be contacted; ``name`` is the host if not a literal."""
        category = classify(address)
        if category is None or self._allowed_explicitly(address):
            return
        if category in PRIVATE_CATEGORIES and self.allow_private:
            return
        plain = _connectable(address)
        where = f"{name} ({plain})" if name else str(address)
        if category in PRIVATE_CATEGORIES:
            flags = (PRIVATE_URLS_FLAG, ALLOW_LIST_FLAG)
            hint = f"start the server with {PRIVATE_URLS_FLAG} allow, or {ALLOW_LIST_FLAG} {plain}"
        else:
            flags = (ALLOW_LIST_FLAG,)
            hint = f"only an explicit {ALLOW_LIST_FLAG} {plain} allows it ({PRIVATE_URLS_FLAG} allow does not)"
        if name:
            hint += f" or {ALLOW_LIST_FLAG} {name}"
        raise UrlRefused(field, url, f"{field} {show_value(url)} is refused: {where} is "
                         f"{_DESCRIPTIONS[category]}; {hint}",
                         host=name or str(address), address=plain, category=category, flags=flags)


def _resolve_within(resolver: Resolver, host: str, port: int, timeout: float) -> tuple[str, ...]:
    """``resolver(host, port)``, given up (TimeoutError) after ``timeout`` s: getaddrinfo has no timeout of its own."""
    outcome: list[tuple[str, ...] | BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append(tuple(resolver(host, port)))
        except BaseException as exc:  # handed to the caller below
            outcome.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, name="t2i-resolve", daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError(f"{host} did not resolve within {timeout:g} s")
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def _literal(host: str) -> IPAddress | None:
    """The address ``host`` spells, or None if it is a name; ValueError if it is a broken address."""
    return ipaddress.IPv6Address(host) if ":" in host else _ipv4_literal(host)


_SAFE = "/?&=%:@!$'()*+,;~-._"
_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")


def _split(url: object, field: str) -> SplitResult:
    if not isinstance(url, str) or not url:
        raise InvalidUrl(field, url, f"{field} must be an http(s) URL, got {show_value(url)}")
    if any(ord(c) < 0x21 or ord(c) == 0x7F or c.isspace() for c in url):
        raise InvalidUrl(field, url, f"{field} {show_value(url)} contains whitespace or control characters")
    if "\\" in url:
        raise InvalidUrl(field, url, f"{field} {show_value(url)} contains a backslash, which hosts read differently")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InvalidUrl(field, url, f"{field} {show_value(url)} is not a valid URL: {exc}") from None
    if parts.username is not None or parts.password is not None:
        raise InvalidUrl(field, url, f"{field} {show_value(url)} contains credentials (user:password@); "
                         "they are never sent, so leave them out")
    return parts


def _normalise_name(host: str) -> str:
    """Lower case, no trailing dot, IDNA ASCII (full-width digits become ASCII digits, as browsers do)."""
    host = host.lower().removesuffix(".")
    if not host.isascii():
        host = host.encode("idna").decode("ascii").lower().removesuffix(".")
    return host


def _host(raw: str, url: str, field: str) -> str:
    if not raw:
        raise InvalidUrl(field, url, f"{field} {show_value(url)} has no host")
    if ":" in raw:  # an IPv6 literal; a zone (%eth0) only ever names a link-local address
        return raw.split("%")[0].lower()
    try:
        host = _normalise_name(raw)
    except UnicodeError as exc:
        raise InvalidUrl(field, url, f"{field} {show_value(url)} has an invalid host name: {exc}") from None
    if not _NAME.fullmatch(host):
        raise InvalidUrl(field, url, f"{field} {show_value(url)} has an invalid host name")
    return host


def _port(parts: SplitResult, url: str, field: str) -> int:
    try:
        port = parts.port
    except ValueError:
        raise InvalidUrl(field, url, f"{field} {show_value(url)} has an invalid port") from None
    if port == 0:
        raise InvalidUrl(field, url, f"{field} {show_value(url)} has port 0, which cannot be contacted")
    return port or (443 if parts.scheme.lower() == "https" else 80)
