"""The one HTTP client for what a server sends or fetches on a client's behalf.

:func:`post_json` delivers webhooks, :func:`fetch` downloads input images. Both:

* check the URL with the :class:`~.urls.UrlPolicy` (one DNS resolution) and connect
  only to an address that was checked, sending the original ``Host`` header and,
  for https, the original name as SNI and for certificate verification;
* never follow a redirect: a 3xx is a :class:`RedirectRefused` naming its Location;
* give each attempt one TOTAL deadline, resolving, connecting, sending and reading
  the whole answer: before every socket operation the socket's timeout is set to the time
  left, so a receiver trickling a byte every few seconds is cut when it runs out;
* read at most ``max_bytes`` of a body, asking for no content encoding (no gzip bomb).

Why the standard library's :mod:`http.client` and not requests/urllib3 (both already
dependencies): their timeouts apply per socket read, so they cannot bound a whole
attempt; pinning them to a checked address means an adapter that overrides
connection creation plus ``server_hostname``/``assert_hostname`` plumbing, and they
hide the socket. :mod:`http.client` takes a connection we open ourselves to the
checked address and reads through a file object we provide, which is all of the
above in a few lines, with the HTTP parsing (status line, header limits, chunked
bodies) still done by a well-kept library.
"""
from __future__ import annotations

import contextlib
import http.client
import io
import json
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Mapping

from t2i_contract.spec.errors import show_value

from .outbound_errors import HttpStatusError, RedirectRefused, TooLarge, TooSlow, Unreachable
from .urls import Target, UrlPolicy

__all__ = ["USER_AGENT", "WEBHOOK_REPLY_BYTES", "Gate", "Monotonic", "Reply", "fetch", "json_poster", "post_json"]

USER_AGENT = "t2i-contract"
WEBHOOK_REPLY_BYTES = 64 * 1024
"""How much of a webhook receiver's answer is read; the rest is not waited for."""
_CHUNK = 64 * 1024
Gate = Callable[[Target], ContextManager[Any]]
"""Entered around a connection to a checked target (a share of the work per address)."""
Monotonic = Callable[[], float]
"""A monotonic clock in seconds (:func:`time.monotonic`). Not :class:`~.clock.Clock`: a socket timeout
runs on real time, so a manual clock could not stop a blocked read; tests inject a ticking one."""


@dataclass(frozen=True)
class Reply:
    """A 2xx answer. ``address`` is where it came from; ``truncated`` if the body was cut at the limit."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    address: str
    truncated: bool = False


def post_json(url: str, payload: Any, *, policy: UrlPolicy, deadline: float | None = None,
              field: str = "webhook", user_agent: str = USER_AGENT, clock: Monotonic = time.monotonic) -> Reply:
    """POST ``payload`` as JSON to ``url`` under ``policy``: one attempt, at most ``deadline`` seconds.

    Returns the 2xx :class:`Reply` (its body cut at :data:`WEBHOOK_REPLY_BYTES`);
    raises an :class:`~.outbound_errors.OutboundError` for everything else.
    """
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": user_agent}
    return _attempt("POST", url, body, headers, policy=policy, deadline=deadline or policy.deadline,
                    max_bytes=WEBHOOK_REPLY_BYTES, cut=True, field=field, clock=clock)


def json_poster(policy: UrlPolicy, *, user_agent: str = USER_AGENT) -> Callable[[str, Any, float], int]:
    """``post(url, payload, deadline) -> HTTP status`` under ``policy``, for a webhook sender's retry loop.

    Any HTTP answer gives its status (a 3xx too: it is not followed, and not a
    success); a refused URL, a network failure or a passed deadline raises its
    :class:`~.outbound_errors.OutboundError`.
    """

    def post(url: str, payload: Any, deadline: float) -> int:
        try:
            return post_json(url, payload, policy=policy, deadline=deadline, user_agent=user_agent).status
        except (HttpStatusError, RedirectRefused) as exc:
            return exc.status

    return post


def fetch(url: str, *, policy: UrlPolicy, deadline: float | None = None, max_bytes: int | None = None,
          field: str = "url", user_agent: str = USER_AGENT, clock: Monotonic = time.monotonic,
          gate: Gate | None = None) -> Reply:
    """GET ``url`` under ``policy``: one attempt, at most ``deadline`` seconds and ``max_bytes`` of body.

    A body over ``max_bytes`` is a :class:`TooLarge`, found from Content-Length
    before reading when the server sends one. ``gate(target)``, when given, is entered
    once the URL is checked and resolved, around the connection (``fairness.Shares``:
    a share per address).
    """
    return _attempt("GET", url, None, {"User-Agent": user_agent, "Accept": "image/png, image/jpeg, */*;q=0.5"},
                    policy=policy, deadline=deadline or policy.deadline, max_bytes=max_bytes or policy.max_bytes,
                    cut=False, field=field, clock=clock, gate=gate)


class _Deadline:
    def __init__(self, seconds: float, clock: Monotonic) -> None:
        self._clock = clock
        self._end = clock() + seconds
        self.seconds = seconds

    def remaining(self) -> float:
        """Seconds left; raises :class:`TimeoutError` when none are."""
        left = self._end - self._clock()
        if left <= 0:
            raise TimeoutError("deadline passed")
        return left


class _DeadlineReader(io.RawIOBase):
    """The socket as a file whose every read may take only the time left to the attempt."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        super().__init__()
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(self._deadline.remaining())
        return self._sock.recv_into(buffer)


class _DeadlineSocket:
    """What :class:`http.client.HTTPConnection` needs of a socket, each operation under the deadline."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self._sock = sock
        self._deadline = deadline

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(self._deadline.remaining())
        self._sock.sendall(data)

    def makefile(self, mode: str = "rb") -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))

    def close(self) -> None:
        """Nothing: the response may still be reading; :meth:`_PinnedConnection.release` closes the socket."""


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to one checked address, speaking to the URL's host name."""

    def __init__(self, target: Target, deadline: _Deadline) -> None:
        super().__init__(target.host, target.port)
        self.default_port = 443 if target.scheme == "https" else 80  # Host header omits the default port
        self._target = target
        self._deadline = deadline
        self.address = ""
        self._raw: socket.socket | None = None

    def release(self) -> None:
        self.close()
        if self._raw is not None:
            self._raw.close()

    def connect(self) -> None:
        last: OSError | None = None
        for address in self._target.addresses:  # all were checked; try them in the resolver's order
            try:
                raw = socket.create_connection((address, self.port), timeout=self._deadline.remaining())
            except TimeoutError:
                raise
            except OSError as exc:
                last = exc
                continue
            try:
                if self._target.scheme == "https":
                    raw.settimeout(self._deadline.remaining())
                    raw = ssl.create_default_context().wrap_socket(raw, server_hostname=self._target.host)
            except BaseException:
                raw.close()
                raise
            self.address = address
            self._raw = raw
            self.sock = _DeadlineSocket(raw, self._deadline)  # type: ignore[assignment]
            return
        raise last or OSError("no address to connect to")


def _attempt(method: str, url: str, body: bytes | None, headers: dict[str, str], *, policy: UrlPolicy,
             deadline: float, max_bytes: int, cut: bool, field: str, clock: Monotonic,
             gate: Gate | None = None) -> Reply:
    limit = _Deadline(deadline, clock)
    target = policy.check(url, field=field, timeout=limit.remaining())
    with gate(target) if gate is not None else contextlib.nullcontext():
        return _exchange(method, url, body, headers, target, limit, max_bytes, cut, field)


def _exchange(method: str, url: str, body: bytes | None, headers: dict[str, str], target: Target,
              limit: _Deadline, max_bytes: int, cut: bool, field: str) -> Reply:
    shown = show_value(url)
    connection = _PinnedConnection(target, limit)
    try:
        connection.request(method, target.path, body=body,
                           headers={**headers, "Accept-Encoding": "identity", "Connection": "close"})
        response = connection.getresponse()
        status = response.status
        if 300 <= status < 400:
            location = response.getheader("Location", "")
            raise RedirectRefused(field, url, f"{field} {shown} answered HTTP {status} redirecting to "
                                  f"{show_value(location)}; redirects are not followed, give the final URL",
                                  status=status, location=location)
        if not 200 <= status < 300:
            raise HttpStatusError(field, url, f"{field} {shown} answered HTTP {status}", status=status)
        content, truncated = _read_body(response, max_bytes, cut, field, url)
        return Reply(status=status, headers=dict(response.getheaders()), body=content,
                     address=connection.address, truncated=truncated)
    except TimeoutError:
        raise TooSlow(field, url, f"{field} {shown} took longer than {limit.seconds:g} s "
                      "(connecting and the whole answer)") from None
    except ssl.SSLError as exc:
        raise Unreachable(field, url, f"{field} {shown} is unreachable: TLS failed ({exc})") from None
    except (OSError, http.client.HTTPException) as exc:
        raise Unreachable(field, url, f"{field} {shown} is unreachable: {_reason(exc)}") from None
    finally:
        connection.release()


def _read_body(response: http.client.HTTPResponse, max_bytes: int, cut: bool, field: str,
               url: str) -> tuple[bytes, bool]:
    declared = response.getheader("Content-Length", "")
    too_large = f"{field} {show_value(url)} is larger than the limit of {max_bytes} bytes"
    if not cut and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(field, url, f"{too_large} (Content-Length {declared})")
    chunks: list[bytes] = []
    size = 0
    while size <= max_bytes:
        chunk = response.read(min(_CHUNK, max_bytes + 1 - size))
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
    if cut:
        return b"".join(chunks)[:max_bytes], True
    raise TooLarge(field, url, too_large)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, http.client.HTTPException) and not isinstance(exc, ConnectionError):
        return f"the answer is not valid HTTP ({type(exc).__name__})"
    return str(exc) or type(exc).__name__
