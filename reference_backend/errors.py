"""Errors raised by the reference backend, and how each maps onto the spec's error shape.

    BackendError               base class; ``code`` is a stable string, ``status`` the HTTP status
    ├── ConfigError            bad settings or folders at start-up (never an HTTP answer)
    ├── MissingDependencyError torch/diffusers/... are not installed
    ├── AuthError              401 "Invalid API key"
    ├── UnsafeIdError          400: an id that could escape its folder
    ├── NotFoundError          404: unknown model, LoRA, VAE or generation
    ├── UnsupportedError       400: a field value this backend cannot honour (says why)
    ├── GoneError              404: images of a ``temp`` generation that have expired
    ├── QueueFullError         429 with ``retry_after``
    └── GenerationError        500: the pipeline failed while generating

Every error carries the offending ``field`` and ``value`` when there is one, and
:meth:`BackendError.to_body` renders the spec's ``ErrorResponse``.
"""
from __future__ import annotations

from typing import Any

from t2i_contract.spec import Problem, error_body
from t2i_contract.spec.errors import MISSING

__all__ = [
    "AuthError",
    "BackendError",
    "ConfigError",
    "GenerationError",
    "GoneError",
    "MissingDependencyError",
    "NotFoundError",
    "QueueFullError",
    "UnsafeIdError",
    "UnsupportedError",
    "INSTALL_HINT",
]

INSTALL_HINT = "pip install 't2i-contract[backend]'"


class BackendError(Exception):
    """Base class of every error this package raises on purpose."""

    code = "backend_error"
    status = 500

    def __init__(self, message: str, *, field: str = "", value: Any = MISSING, rule: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value
        self.rule = rule or self.code

    def to_body(self) -> dict[str, Any]:
        problems = [Problem(self.field, self.rule, self.message, self.value)] if self.field else []
        return error_body(self.message, problems)


class ConfigError(BackendError):
    code = "config"


class MissingDependencyError(BackendError):
    code = "missing_dependency"

    def __init__(self, missing: str) -> None:
        super().__init__(f"the reference backend needs {missing}, which is not installed: {INSTALL_HINT}")


class AuthError(BackendError):
    code = "invalid_key"
    status = 401

    def __init__(self) -> None:
        super().__init__("Invalid API key")


class UnsafeIdError(BackendError):
    code = "unsafe_id"
    status = 400


class NotFoundError(BackendError):
    code = "not_found"
    status = 404


class GoneError(NotFoundError):
    code = "expired"


class UnsupportedError(BackendError):
    code = "unsupported"
    status = 400


class QueueFullError(BackendError):
    code = "queue_full"
    status = 429

    def __init__(self, limit: int, retry_after: int) -> None:
        super().__init__(f"Rate limit exceeded. Maximum {limit} queued requests allowed.")
        self.retry_after = retry_after

    def to_body(self) -> dict[str, Any]:
        return error_body(self.message, retry_after=self.retry_after)


class GenerationError(BackendError):
    code = "generation_failed"
    status = 500
