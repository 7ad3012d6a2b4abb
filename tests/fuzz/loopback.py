"""Keeping fuzzed traffic on loopback: a receiver, the URL rewrite, and a connection guard.

A fuzzed text2img body may carry any ``webhook`` or image URL, and a server contacts
those on the client's behalf. Three things keep every such contact on this machine:

* :func:`rewrite` replaces every URL a server would contact (``webhook`` and the input
  image fields) with the loopback :class:`Receiver`'s, before the case is sent (with
  ``images=True``, an input image given as base64 becomes the receiver's real PNG too, since
  the schema takes any base64 text but a server must read an image from it). What is
  "a URL" is decided by the servers' own URL parser (:class:`UrlPolicy` with a resolver
  that refuses everything, so deciding never touches DNS): a value it reads as a URL is
  rewritten, anything else (a number, ``"not a url"``, ``ftp://``) stays, so the servers'
  refusals of bad URLs are still fuzzed.
* the servers under fuzzing run with their strict policy (private addresses refused,
  only ``127.0.0.1`` allowed), so a URL the rewrite missed is refused unless it is on
  loopback or public;
* :class:`LoopbackGuard` patches ``socket.connect`` for the process in which the
  servers run (they run on threads here) so that a connection to any address other than
  loopback raises before a packet leaves, and records the attempt; a test asserts none.
"""
from __future__ import annotations

import base64
import io
import ipaddress
import socket
import threading
from typing import Any, Callable, Iterable

from PIL import Image
from werkzeug.wrappers import Request, Response

from t2i_contract.protocol import InvalidUrl, OutboundError, UrlPolicy, UrlRefused
from tests.support import ServerThread

__all__ = ["IMAGE_FIELDS", "URL_FIELDS", "LoopbackGuard", "Receiver", "rewrite"]

URL_FIELDS = ("webhook", "ip_adapter_image", "init_image", "mask_image")
"""Request fields whose URL a server contacts (the last two once img2img and inpaint land)."""
IMAGE_FIELDS = frozenset(URL_FIELDS) - {"webhook"}
"""The input images: an http(s) URL or the image itself in base64 (the spec's InputImage)."""


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (200, 40, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


class Receiver:
    """A loopback HTTP server: ``POST /hook`` records a webhook, ``GET /image.png`` serves a real PNG."""

    def __init__(self) -> None:
        self.png = _png()
        self.png_base64 = "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")
        self.seen: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server = ServerThread(self._wsgi)
        self.hook_url = self._server.url + "/hook"
        self.image_url = self._server.url + "/image.png"

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        request.get_data()
        with self._lock:
            self.seen.append((request.method, request.path))
        if request.method == "GET" and request.path == "/image.png":
            return Response(self.png, mimetype="image/png")(environ, start_response)
        return Response("ok")(environ, start_response)

    def __enter__(self) -> Receiver:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__(*exc)


def _refuse_resolution(host: str, port: int) -> list[str]:
    raise OSError(f"the fuzz rewrite never resolves names (asked for {host!r})")


_PARSER = UrlPolicy(allow_private=True, resolver=_refuse_resolution)


def is_contactable(value: Any) -> bool:
    """Would a server read ``value`` as an http(s) URL to contact? Judged by the servers' own parser."""
    if not isinstance(value, str):
        return False
    try:
        _PARSER.check(value, field="url")
    except InvalidUrl:
        return False
    except UrlRefused as exc:
        return bool(exc.host)  # an address refused here may be allowed elsewhere; a scheme never is
    except OutboundError:  # unreachable here (no resolver): a name that another resolver may answer
        return True
    return True


def rewrite(body: Any, receiver: Receiver, *, images: bool = False) -> Any:
    """``body`` with every contactable URL in :data:`URL_FIELDS` pointed at ``receiver``; with
    ``images``, every other string in :data:`IMAGE_FIELDS` replaced by the receiver's PNG in base64."""
    if not isinstance(body, dict):
        return body
    out = dict(body)
    for name in URL_FIELDS:
        if name in out and is_contactable(out[name]):
            out[name] = receiver.image_url if name in IMAGE_FIELDS else receiver.hook_url
        elif images and name in IMAGE_FIELDS and isinstance(out.get(name), str):
            out[name] = receiver.png_base64
    return out


def _is_loopback(address: Any) -> bool:
    if not isinstance(address, tuple) or not address:
        return True  # a Unix socket path: not the network
    try:
        ip = ipaddress.ip_address(str(address[0]).split("%")[0])
    except ValueError:
        return False  # a name here means something connects without our resolver: refuse
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


class LoopbackGuard:
    """While active, ``socket.connect``/``connect_ex`` to a non-loopback address raise and are recorded."""

    def __init__(self) -> None:
        self.refused: list[Any] = []
        self._saved: dict[str, Any] = {}

    def __enter__(self) -> LoopbackGuard:
        for name in ("connect", "connect_ex"):
            original = getattr(socket.socket, name)
            self._saved[name] = original
            setattr(socket.socket, name, self._guarded(original))
        return self

    def _guarded(self, original: Callable[..., Any]) -> Callable[..., Any]:
        guard = self

        def connect(sock: socket.socket, address: Any) -> Any:
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
                guard.refused.append(address)
                raise ConnectionRefusedError(f"fuzzing allows loopback only, not {address!r}")
            return original(sock, address)

        return connect

    def __exit__(self, *exc: object) -> None:
        for name, original in self._saved.items():
            setattr(socket.socket, name, original)
