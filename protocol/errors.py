"""Errors of the protocol layer, and the one JSON answer every failure becomes.

    ProtocolError             base class; ``code`` is a stable string, ``status`` the HTTP status
    ├── RequestRejected       400: the call cannot be read (content type, size, Prefer, a URL refused)
    ├── AuthError             401: the key is missing or unknown, "Invalid API key"
    ├── NotFound              404: no such generation, image or route
    ├── MethodNotAllowed      405: the route exists for other methods (``allow`` lists them)
    ├── QueueFull             429: too many jobs waiting (``retry_after``)
    ├── ForcedError           any documented status, asked for with ``Prefer: code=N``
    └── InternalError         500: something broke that the client cannot fix

Every error answer of every server is the spec's error shape *with* its ``errors``
list: :func:`error_answer` turns any exception (a :class:`ProtocolError`, a spec
:class:`~t2i_contract.spec.RequestError`, a werkzeug ``HTTPException``, an error of
the URL policy, anything else) into ``(status, body, headers)``. Servers register it
as their only error handler; nothing else writes an error body.
"""
from __future__ import annotations

import logging
from typing import Any

from t2i_contract.spec import Problem, RequestError, error_body

__all__ = [
    "STATUS_MESSAGES",
    "AuthError",
    "ErrorAnswer",
    "ForcedError",
    "InternalError",
    "MethodNotAllowed",
    "NotFound",
    "ProtocolError",
    "QueueFull",
    "RequestRejected",
    "error_answer",
]

# The hosted API's own messages for each status (see shared/upstream/NOTES.md).
STATUS_MESSAGES: dict[int, str] = {
    400: "Bad request.",
    401: "Invalid API key",
    402: "Insufficient credits. Please add more credits to continue.",
    404: "Not found.",
    405: "Method not allowed.",
    429: "Rate limit exceeded.",
    500: "Internal server error. Please try again.",
    503: "Service temporarily unavailable. Please try again later.",
}

log = logging.getLogger(__name__)

ErrorAnswer = tuple[int, dict[str, Any], dict[str, str]]
"""(status, JSON body, extra headers) of an error answer."""


class ProtocolError(Exception):
    """An answer in the spec's error shape with an HTTP status; ``problems`` is never empty."""

    code = "protocol_error"
    status = 500

    def __init__(self, message: str, problems: tuple[Problem, ...] = (), *,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or (Problem("", self.code, message),)
        self.headers = headers or {}
        self.extra = extra

    def to_body(self) -> dict[str, Any]:
        return error_body(self.message, self.problems, **self.extra)


class RequestRejected(ProtocolError):
    """400: the request cannot be read as a call of this API at all."""

    code = "rejected"
    status = 400

    def __init__(self, field: str, rule: str, message: str, value: Any) -> None:
        super().__init__(message, (Problem(field, rule, message, value),))
        self.field = field
        self.value = value


class AuthError(ProtocolError):
    code = "auth"
    status = 401

    def __init__(self) -> None:
        message = STATUS_MESSAGES[401]
        super().__init__(message, (Problem("key", "auth", "key is missing or not one of this server's keys"),))


class NotFound(ProtocolError):
    code = "not_found"
    status = 404

    def __init__(self, message: str, *, field: str = "", value: Any = None, rule: str = "exists") -> None:
        super().__init__(message, (Problem(field, rule, message, value),))
        self.field = field
        self.value = value

    @classmethod
    def generation(cls, job_id: int, reason: str = "no request with this id was made, or it expired",
                   *, rule: str = "exists") -> NotFound:
        return cls(f"Generation {job_id} not found: {reason}", field="request_id", value=job_id, rule=rule)

    @classmethod
    def route(cls, method: str, path: str) -> NotFound:
        return cls(f"Not found: no route {method} {path}", field="", value=path, rule="route")


class MethodNotAllowed(ProtocolError):
    code = "method_not_allowed"
    status = 405

    def __init__(self, method: str, path: str, allow: list[str]) -> None:
        allowed = ", ".join(sorted(set(allow)))  # werkzeug's order follows a set: sort for stable answers
        message = f"Method not allowed: {method} {path}; use {allowed}"
        super().__init__(message, (Problem("", "method", message, method),), headers={"Allow": allowed})


class QueueFull(ProtocolError):
    code = "queue_full"
    status = 429

    def __init__(self, limit: int, retry_after: int) -> None:
        message = f"Rate limit exceeded. Maximum {limit} queued requests allowed."
        super().__init__(message, (Problem("", "max_queued", message, limit),),
                         headers={"Retry-After": str(retry_after)}, retry_after=retry_after)


class ForcedError(ProtocolError):
    """An error the client asked for with ``Prefer: code=N``."""

    code = "forced"

    def __init__(self, status: int, retry_after: int | None = None) -> None:
        message = STATUS_MESSAGES.get(status, f"HTTP {status}")
        extra: dict[str, Any] = {}
        headers: dict[str, str] = {}
        if status == 429:
            message = "Rate limit exceeded. Please retry later."
            if retry_after is not None:
                extra["retry_after"] = retry_after
                headers["Retry-After"] = str(retry_after)
        super().__init__(message, (Problem("Prefer", "forced", f"answered {status} because Prefer asked for it",
                                           f"code={status}"),), headers=headers, **extra)
        self.status = status


class InternalError(ProtocolError):
    code = "internal"
    status = 500

    def __init__(self, message: str = STATUS_MESSAGES[500]) -> None:
        super().__init__(message)


def error_answer(exc: BaseException, method: str = "", path: str = "") -> ErrorAnswer:
    """The one error handler: ``exc`` as (status, spec error body, headers). Never raises.

    The URL policy's and input images' errors (``outbound_errors``) are spec
    ``RequestError``s naming field, host and flag: they answer 400 like any broken field.
    """
    if isinstance(exc, ProtocolError):
        return exc.status, exc.to_body(), dict(exc.headers)
    if isinstance(exc, RequestError):
        return 400, exc.to_body(), {}
    code = getattr(exc, "code", None)
    if isinstance(code, int) and hasattr(exc, "get_response"):  # a werkzeug HTTPException
        if code == 404:
            return error_answer(NotFound.route(method, path))
        if code == 405:
            allow = list(getattr(exc, "valid_methods", None) or [])
            return error_answer(MethodNotAllowed(method, path, allow))
        if code == 413:
            return error_answer(RequestRejected("", "max_size", "request body is too large", None))
        name = str(getattr(exc, "name", "") or STATUS_MESSAGES.get(code, f"HTTP {code}"))
        status = code if 400 <= code < 600 else 500
        return status, error_body(f"{name}: {method} {path}", (Problem("", "http", name, path),)), {}
    log.error("unexpected error answering %s %s", method, path, exc_info=exc)
    return error_answer(InternalError())
