"""Errors raised by the drift package.

    DriftError                 base class; ``code`` is a stable string
    ├── DocumentError          a spec file is missing, unreadable, not OpenAPI, or a $ref dangles
    └── UpstreamError          the live server or the proxy's upstream cannot be reached

Each carries the offending value (``source`` or ``url``) as an attribute, and a
message that names it and says what would be accepted.
"""
from __future__ import annotations

__all__ = ["DocumentError", "DriftError", "UpstreamError"]


class DriftError(Exception):
    """Base class of every error this package raises."""

    code = "drift_error"


class DocumentError(DriftError):
    """A document cannot be read as an OpenAPI description."""

    code = "document"

    def __init__(self, message: str, source: str = "") -> None:
        super().__init__(message)
        self.source = source


class UpstreamError(DriftError):
    """A server under test did not answer, or answered with something that is not HTTP/JSON."""

    code = "upstream"

    def __init__(self, message: str, url: str = "") -> None:
        super().__init__(message)
        self.url = url
