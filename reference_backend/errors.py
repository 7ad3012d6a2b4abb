"""Errors raised by the reference backend, and how each maps onto the spec's error shape.

    BackendError               base class (a protocol error); ``code`` a stable string, ``status`` the HTTP status
    ├── ConfigError            bad settings or folders at start-up (never an HTTP answer)
    ├── MissingDependencyError torch/diffusers/... are not installed
    ├── UnsafeIdError          400: an id that could escape its folder
    ├── NotFoundError          404: unknown model, LoRA or VAE
    ├── UnsupportedError       400: a field value this backend cannot honour (says why)
    └── GenerationError        500: the pipeline failed while generating

Every error carries the offending ``field`` and ``value`` when there is one, and
:meth:`BackendError.to_body` renders the spec's ``ErrorResponse`` with its
``errors`` list. Errors of the protocol itself (401, 404 of a generation, 429) are
the protocol layer's (:mod:`t2i_contract.protocol.errors`).
"""
from __future__ import annotations

from typing import Any

from t2i_contract.protocol import ProtocolError
from t2i_contract.spec import Problem

__all__ = [
    "BackendError",
    "ConfigError",
    "GenerationError",
    "MissingDependencyError",
    "NotFoundError",
    "UnsafeIdError",
    "UnsupportedError",
    "INSTALL_HINT",
]

#: The distribution is installed from its checkout, not from an index: say how, where it is.
INSTALL_HINT = "pip install -e '.[backend]' in the t2i-contract checkout (make test does it)"
_NO_VALUE: Any = object()


class BackendError(ProtocolError):
    """Base class of every error this package raises on purpose."""

    code = "backend_error"
    status = 500

    def __init__(self, message: str, *, field: str = "", value: Any = _NO_VALUE, rule: str | None = None) -> None:
        self.field = field
        self.value = value
        self.rule = rule or self.code
        problem = Problem(field, self.rule, message) if value is _NO_VALUE else Problem(field, self.rule, message, value)
        super().__init__(message, (problem,))


class ConfigError(BackendError):
    code = "config"


class MissingDependencyError(BackendError):
    code = "missing_dependency"

    def __init__(self, missing: str) -> None:
        super().__init__(f"the reference backend needs {missing}, which is not installed: {INSTALL_HINT}")


class UnsafeIdError(BackendError):
    code = "unsafe_id"
    status = 400


class NotFoundError(BackendError):
    code = "not_found"
    status = 404


class UnsupportedError(BackendError):
    code = "unsupported"
    status = 400


class GenerationError(BackendError):
    code = "generation_failed"
    status = 500
