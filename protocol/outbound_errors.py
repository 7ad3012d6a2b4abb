"""Errors of what a server contacts or takes in on a client's behalf: URLs, fetches, input images.

    OutboundError              base: one ``field``, its ``value``, a stable ``code`` (the problem's rule)
    ├── InvalidUrl             "url": not an http(s) URL that can be requested (syntax, port, credentials)
    ├── UrlRefused             "url_policy": the URL policy refuses the scheme or an address of the host
    ├── FetchError             the attempt itself failed
    │   ├── Unreachable        "unreachable": no such host, connection refused or reset, TLS, not HTTP
    │   ├── RedirectRefused    "redirect": a 3xx answer (redirects are never followed)
    │   ├── HttpStatusError    "http_status": any other answer that is not 2xx
    │   ├── TooSlow            "too_slow": the attempt's total deadline passed
    │   └── TooLarge           "too_big": the body is over the byte limit (fetched or inline)
    └── InputImageError        the value is there but gives no usable image
        ├── BadBase64          "base64": neither a URL nor valid base64
        └── MaskSizeMismatch   "mask_size": the mask and the image differ in size

What the bytes of an image may be is the wire's (``wire/images.py``, re-exported
here): ``NotAnImage`` ("not_image"), ``BadDimensions`` ("dimensions") and
``TooManyScans`` ("scans"), all :class:`~t2i_contract.wire.images.ImageRefused`.

Each is a spec :class:`~t2i_contract.spec.RequestError` carrying exactly one
:class:`~t2i_contract.spec.Problem` ``(field, code, message, value)``, so the one
error handler of each server answers it as a 400 in the spec's error shape with
``to_body()``, like any other broken field. A webhook sender, which has no client
to answer, logs ``str(err)`` instead.
"""
from __future__ import annotations

from typing import Any

from t2i_contract.spec import Problem, RequestError
from t2i_contract.wire.images import BadDimensions, ImageRefused, NotAnImage, TooManyScans, shown

__all__ = [
    "BadBase64",
    "BadDimensions",
    "FetchError",
    "HttpStatusError",
    "ImageRefused",
    "InputImageError",
    "InvalidUrl",
    "MaskSizeMismatch",
    "NotAnImage",
    "OutboundError",
    "RedirectRefused",
    "TooLarge",
    "TooManyScans",
    "TooSlow",
    "Unreachable",
    "UrlRefused",
    "shown",
]

class OutboundError(RequestError):
    """A field whose URL or inline data the server could not use; ``str(err)`` is the client message."""

    code = "outbound"

    def __init__(self, field: str, value: Any, message: str) -> None:
        self.value = shown(value)
        super().__init__([Problem(field, self.code, message, self.value)])


class InvalidUrl(OutboundError):
    code = "url"


class UrlRefused(OutboundError):
    """Refused by the URL policy. ``host`` and ``address`` say what; ``flags`` what would allow it."""

    code = "url_policy"

    def __init__(self, field: str, value: Any, message: str, *, host: str = "", address: str = "",
                 category: str = "", flags: tuple[str, ...] = ()) -> None:
        super().__init__(field, value, message)
        self.host = host
        self.address = address
        self.category = category
        self.flags = flags


class FetchError(OutboundError):
    code = "fetch"


class Unreachable(FetchError):
    code = "unreachable"


class RedirectRefused(FetchError):
    code = "redirect"

    def __init__(self, field: str, value: Any, message: str, *, status: int, location: str) -> None:
        super().__init__(field, value, message)
        self.status = status
        self.location = location


class HttpStatusError(FetchError):
    code = "http_status"

    def __init__(self, field: str, value: Any, message: str, *, status: int) -> None:
        super().__init__(field, value, message)
        self.status = status


class TooSlow(FetchError):
    code = "too_slow"


class TooLarge(FetchError):
    code = "too_big"


class InputImageError(OutboundError):
    code = "image"


class BadBase64(InputImageError):
    code = "base64"


class MaskSizeMismatch(InputImageError):
    code = "mask_size"
