"""Errors raised by the drift package.

    DriftError                 base class; ``code`` is a stable string
    ├── DocumentError          a spec file is missing, unreadable, not OpenAPI, or a $ref dangles
    └── UpstreamError          the live server or the proxy's upstream cannot be reached

Each carries the offending value (``source`` or ``url``) as an attribute, and a
message that names it and says what would be accepted. Documents are read by
``spec``'s :class:`~spec.document.Document`, which raises ``spec``'s
``DocumentError``; :func:`drift_errors` turns it into this package's (a
subclass of both) where lint, diff and drift hand a result back.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from t2i_contract.contract_tests.errors import short_reason
from t2i_contract.spec import DocumentError as SpecDocumentError

__all__ = ["DocumentError", "DriftError", "UpstreamError", "drift_errors", "unreachable"]


class DriftError(Exception):
    """Base class of every error this package raises."""

    code = "drift_error"


class DocumentError(DriftError, SpecDocumentError):
    """A document cannot be read as an OpenAPI description."""

    code = "document"


class UpstreamError(DriftError):
    """A server under test did not answer, or answered with something that is not HTTP/JSON."""

    code = "upstream"

    def __init__(self, message: str, url: str = "") -> None:
        super().__init__(message)
        self.url = url


def unreachable(url: str, reason: str | None) -> UpstreamError:
    """No answer at all from ``url``: one line with the system's reason and what to do."""
    return UpstreamError(f"cannot reach {url} ({short_reason(reason or 'no answer')}): start it, or pass --base-url "
                         f"where one runs", url)


@contextmanager
def drift_errors() -> Iterator[None]:
    """Let a document error leave the drift package as its own :class:`DocumentError`."""
    try:
        yield
    except SpecDocumentError as exc:
        if isinstance(exc, DocumentError):
            raise
        raise DocumentError(str(exc), exc.source) from None
