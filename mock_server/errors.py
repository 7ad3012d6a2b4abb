"""Errors of the mock server.

    MockError                 base class (a protocol error, so the one error handler answers it)
    └── ConfigError           a setting is out of range (raised at start-up, never over HTTP)

Every error a client can cause is the protocol layer's
(:mod:`t2i_contract.protocol.errors`): refused intake, 401, 404, 405, 429, forced
errors. ``RequestRejected`` is re-exported for the config parsers' callers.
"""
from __future__ import annotations

from typing import Any

from t2i_contract.protocol import ProtocolError, RequestRejected

__all__ = ["ConfigError", "MockError", "RequestRejected"]


class MockError(ProtocolError):
    """Base class of the mock's own errors."""

    code = "mock_error"


class ConfigError(MockError, ValueError):
    """A setting with a value the mock cannot run with."""

    code = "config"

    def __init__(self, name: str, value: Any, accepted: str) -> None:
        super().__init__(f"{name} must be {accepted}, got {value!r}")
        self.field = name
        self.value = value
