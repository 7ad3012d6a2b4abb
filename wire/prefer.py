"""The ``Prefer`` request header, the client's way to steer one answer: read by servers, written by clients.

Supported preferences (RFC 7240 syntax, comma- or semicolon-separated)::

    Prefer: respond-async                answer text2img with "processing" at once (RFC 7240)
    Prefer: status=processing, eta=2     the same, and (on the mock) ready in 2 s
    Prefer: status=success               answer at once, whatever --processing-ratio says
    Prefer: code=429                     answer with that error status (servers that allow it)

Unknown preferences are ignored, as RFC 7240 asks; a known one with a value a
server cannot honour is a 400 naming the header (:class:`PreferError`, a spec
``RequestError``), so a typo never passes silently. Clients write the header with
:func:`prefer_header`, so what the contract suite asks for is what servers read.
"""
from __future__ import annotations

from dataclasses import dataclass

from t2i_contract.spec import Problem, RequestError

__all__ = ["NO_PREFERENCES", "PREFER_FIELD", "PreferError", "Preferences", "parse_prefer", "prefer_header"]

PREFER_FIELD = "Prefer"
"""How an error about the header names it (``errors[].field``)."""

_STATUSES = frozenset({"processing", "success"})
MAX_ETA = 86400.0


@dataclass(frozen=True, slots=True)
class Preferences:
    status: str | None = None
    eta: float | None = None
    code: int | None = None

    @property
    def wants_async(self) -> bool:
        return self.status == "processing"


NO_PREFERENCES = Preferences()


class PreferError(RequestError):
    """A ``Prefer`` value a server cannot honour: a 400 naming the header and the value."""

    code = "invalid_prefer"

    def __init__(self, value: str, why: str) -> None:
        super().__init__((Problem(PREFER_FIELD, "prefer", f"Prefer header {why}, got {value!r}", value),))
        self.value = value


def prefer_header(*, status: str | None = None, eta: float | None = None, code: int | None = None,
                  respond_async: bool = False) -> str:
    """The header value asking for these preferences (what :func:`parse_prefer` reads back).

    >>> prefer_header(status="processing", eta=1)
    'status=processing, eta=1'
    """
    parts = ["respond-async"] if respond_async else []
    if status is not None:
        if status not in _STATUSES:
            raise ValueError(f"status must be one of {sorted(_STATUSES)}, got {status!r}")
        parts.append(f"status={status}")
    if eta is not None:
        parts.append(f"eta={eta:g}")
    if code is not None:
        parts.append(f"code={code}")
    return ", ".join(parts)


def parse_prefer(header: str | None) -> Preferences:
    """Parse the header's value; ``None`` or empty gives no preferences.

    ``code`` is checked only for being a status number here; whether the operation
    documents it is the pipeline's question (``Pipeline.forced_error``).
    """
    if not header:
        return NO_PREFERENCES
    status: str | None = None
    eta: float | None = None
    code: int | None = None
    for part in header.replace(";", ",").split(","):
        name, _, value = part.strip().partition("=")
        name, value = name.strip().lower(), value.strip().strip('"')
        if name == "respond-async":
            status = status or "processing"
        elif name == "status":
            if value not in _STATUSES:
                raise PreferError(header, "status must be processing or success")
            status = value
        elif name == "eta":
            try:
                eta = float(value)
            except ValueError:
                raise PreferError(header, "eta must be a number of seconds") from None
            if not 0 <= eta <= MAX_ETA:
                raise PreferError(header, f"eta must be between 0 and {MAX_ETA:g} seconds")
        elif name == "code":
            if not (value.isdigit() and len(value) == 3 and 400 <= int(value) <= 599):
                raise PreferError(header, "code must be an error status documented by the operation (4xx or 5xx)")
            code = int(value)
    if eta is not None and status is None:
        status = "processing"
    return Preferences(status=status, eta=eta, code=code)
