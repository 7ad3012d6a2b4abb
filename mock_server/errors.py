"""Errors of the mock server, and the HTTP answer each one becomes.

    MockError                 base class; ``code`` is a stable string, ``status`` the HTTP status
    ├── ConfigError           a setting is out of range (raised at start-up, never over HTTP)
    ├── RequestRejected       a request is refused before validation (content type, size, Prefer)
    ├── AuthError             401, the key is missing or unknown: "Invalid API key"
    ├── JobNotFound           404, no generation with that id (never made, or expired)
    ├── QueueFull             429, more jobs pending than ``--max-queued`` allows
    └── ForcedError           any documented status, asked for with ``Prefer: code=N``

Every one maps to the spec's error shape through :meth:`MockError.to_body`; the
app's single error handler turns it into the JSON answer. Validation errors come
from ``spec`` (:class:`spec.RequestError`) and are answered by the same handler.
"""
from __future__ import annotations

from typing import Any

from t2i_contract.spec import Problem, error_body

__all__ = [
    "AuthError",
    "ConfigError",
    "ForcedError",
    "JobNotFound",
    "MockError",
    "QueueFull",
    "RequestRejected",
    "STATUS_MESSAGES",
]

# The hosted API's own messages for each status (see shared/upstream/NOTES.md).
STATUS_MESSAGES: dict[int, str] = {
    400: "Bad request.",
    401: "Invalid API key",
    402: "Insufficient credits. Please add more credits to continue.",
    404: "Not found.",
    429: "Rate limit exceeded.",
    500: "Internal server error. Please try again.",
    503: "Service temporarily unavailable. Please try again later.",
}


class MockError(Exception):
    """Base class: an answer in the spec's error shape with an HTTP status."""

    code = "mock_error"
    status = 500

    def __init__(self, message: str, problems: tuple[Problem, ...] = (), **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems
        self.extra = extra

    def to_body(self) -> dict[str, Any]:
        return error_body(self.message, self.problems, **self.extra)


class ConfigError(MockError, ValueError):
    """A setting with a value the mock cannot run with."""

    code = "config"

    def __init__(self, name: str, value: Any, accepted: str) -> None:
        super().__init__(f"{name} must be {accepted}, got {value!r}")
        self.field = name
        self.value = value


class RequestRejected(MockError):
    """400: the request cannot be read as a call of this API at all."""

    code = "rejected"
    status = 400

    def __init__(self, field: str, rule: str, message: str, value: Any) -> None:
        super().__init__(message, (Problem(field, rule, message, value),))
        self.field = field
        self.value = value


class AuthError(MockError):
    code = "auth"
    status = 401

    def __init__(self) -> None:
        super().__init__(STATUS_MESSAGES[401])


class JobNotFound(MockError):
    code = "not_found"
    status = 404

    def __init__(self, job_id: int, reason: str = "no request with this id was made, or it expired") -> None:
        super().__init__(
            f"Generation {job_id} not found: {reason}",
            (Problem("id", "exists", f"no generation has id {job_id}", job_id),),
        )
        self.job_id = job_id


class QueueFull(MockError):
    code = "queue_full"
    status = 429

    def __init__(self, limit: int, retry_after: int) -> None:
        super().__init__(
            f"Rate limit exceeded. Maximum {limit} queued requests allowed.", retry_after=retry_after
        )


class ForcedError(MockError):
    """An error the client asked for with ``Prefer: code=N``."""

    code = "forced"

    def __init__(self, status: int, retry_after: int | None = None) -> None:
        extra: dict[str, Any] = {"retry_after": retry_after} if status == 429 and retry_after is not None else {}
        message = STATUS_MESSAGES.get(status, f"HTTP {status}")
        if status == 429:
            message = "Rate limit exceeded. Please retry later."
        super().__init__(message, **extra)
        self.status = status
