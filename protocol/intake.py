"""Read an incoming API call before the spec validates it, or refuse it.

The pipeline runs the checks in the order a client would want them reported: a
forced error (``Prefer: code=N``), then the Content-Type and the body-size limit of
the operation (here), JSON syntax (``spec.parse_json_body``), then the API key
(here, in constant time), then the fields (``spec``). Everything reads a WSGI
``environ``, so the mock's fast path and the Flask routes share it.

Keys are never logged: :class:`KeyRing` keeps them, compares with
``hmac.compare_digest`` against every key (no early exit), and its ``repr`` shows
only how many there are.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any, Mapping

from werkzeug.wsgi import get_input_stream

from .errors import AuthError, RequestRejected

__all__ = ["DEFAULT_MAX_BODY", "INPUT_IMAGE_BYTES", "BodyLimits", "KeyRing", "is_json", "read_body"]

DEFAULT_MAX_BODY = 1024 * 1024
"""Bytes a request body may have unless an operation says otherwise."""
INPUT_IMAGE_BYTES = 6 * 1024 * 1024
"""Room added for each input image an operation requires (``x-t2i-input-image`` in the spec): a
1024x1024 PNG of a photograph is 1.5-3 MB, 4 MB in base64; so inpaint (init and mask) has room for
two such PNGs."""
_JSON_TYPES = frozenset({"application/json", ""})


def is_json(content_type: str | None) -> bool:
    """Whether a Content-Type header may carry the JSON body; a missing one may.

    A missing Content-Type is read as JSON (some clients send ``data=json.dumps(...)``),
    but ``text/plain`` and form types, which a cross-site HTML form can send, are not.
    """
    mimetype = (content_type or "").partition(";")[0].strip().lower()
    return mimetype in _JSON_TYPES or mimetype.endswith("+json")


@dataclass(frozen=True)
class BodyLimits:
    """The largest body, in bytes, each operation accepts; ``default`` for the rest."""

    default: int = DEFAULT_MAX_BODY
    per_operation: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, value in {"default": self.default, **self.per_operation}.items():
            if value < 1:
                raise ValueError(f"body limit of {name} must be 1 or more bytes, got {value}")

    def of(self, operation_id: str) -> int:
        return self.per_operation.get(operation_id, self.default)

    @classmethod
    def for_spec(cls, spec: Any, default: int = DEFAULT_MAX_BODY) -> BodyLimits:
        """``default`` for every operation, plus :data:`INPUT_IMAGE_BYTES` per input image it requires.

        An optional image (text2img's ``ip_adapter_image``) gets no room of its own: it is
        usually a URL, and a base64 one must fit the default.
        """
        per_operation = {}
        for operation_id, _, method, _ in spec.operations():
            if method.lower() != "post":
                continue
            images = sum(1 for f in spec.request_fields(operation_id)
                         if f.required and f.schema.get("x-t2i-input-image"))
            if images:
                per_operation[operation_id] = default + images * INPUT_IMAGE_BYTES
        return cls(default, per_operation)


def read_body(environ: dict[str, Any], limit: int) -> bytes:
    """The raw body of an API call; a 400 naming the header when its type is not JSON or it is too large.

    The stream is read at most ``limit + 1`` bytes far, so an over-size body costs no memory.
    """
    content_type = environ.get("CONTENT_TYPE") or ""
    if not is_json(content_type):
        raise RequestRejected(
            "Content-Type", "content_type",
            f"Content-Type must be application/json, got {content_type!r} "
            "(curl -d sends form data; add -H 'Content-Type: application/json')", content_type,
        )
    length_text = environ.get("CONTENT_LENGTH") or ""
    if length_text.isdigit() and int(length_text) > limit:
        length = int(length_text)
        raise RequestRejected("Content-Length", "max_size",
                              f"request body must be at most {limit} bytes, got {length}", length)
    if length_text.isdigit() and not environ.get("wsgi.input_terminated"):
        raw = environ["wsgi.input"].read(int(length_text))  # WSGI: reading up to Content-Length is safe
    else:  # werkzeug's stream de-chunks, and reads nothing when there is no length and no chunking
        raw = get_input_stream(environ).read(limit + 1)
    if len(raw) > limit:
        raise RequestRejected("Content-Length", "max_size",
                              f"request body must be at most {limit} bytes, got more", len(raw))
    return raw


class KeyRing:
    """The API keys a server accepts; empty means any non-empty key is accepted."""

    __slots__ = ("_keys",)

    def __init__(self, keys: tuple[str, ...] | list[str] = ()) -> None:
        self._keys = tuple(k.encode("utf-8") for k in keys if k)

    def __bool__(self) -> bool:
        return bool(self._keys)

    def __repr__(self) -> str:
        return f"KeyRing({len(self._keys)} keys)"

    def matches(self, key: str) -> bool:
        """Whether ``key`` is one of the keys, compared in constant time against every one."""
        try:
            supplied = key.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate is no one's key
            return False
        matched = False
        for known in self._keys:
            matched |= hmac.compare_digest(supplied, known)
        return matched

    def check(self, body: Mapping[str, Any]) -> None:
        """With keys set, refuse a missing or unknown ``key`` with the hosted API's 401.

        Runs before field validation, so a wrong key learns nothing about the body.
        """
        if not self._keys:
            return
        key = body.get("key")
        if not isinstance(key, str) or not key or not self.matches(key):
            raise AuthError()
