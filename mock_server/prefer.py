"""Read the ``Prefer`` request header, the client's way to steer one answer.

Supported preferences (RFC 7240 syntax, comma- or semicolon-separated)::

    Prefer: status=processing, eta=2     answer text2img with "processing", ready in 2 s
    Prefer: status=success               answer at once, whatever --processing-ratio says
    Prefer: code=429                     answer with that error status

Unknown preferences are ignored, as RFC 7240 asks; a known one with a value the
mock cannot honour is a 400 naming the header, so a typo never passes silently.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import RequestRejected

__all__ = ["FORCEABLE_CODES", "Preferences", "parse_prefer"]

FORCEABLE_CODES = frozenset({400, 401, 402, 404, 429, 500, 503})
_STATUSES = frozenset({"processing", "success"})


@dataclass(frozen=True, slots=True)
class Preferences:
    status: str | None = None
    eta: float | None = None
    code: int | None = None


_NONE = Preferences()


def _reject(value: str, why: str) -> RequestRejected:
    return RequestRejected("Prefer", "prefer", f"Prefer header {why}, got {value!r}", value)


def parse_prefer(header: str | None) -> Preferences:
    """Parse the header's value; ``None`` or empty gives no preferences."""
    if not header:
        return _NONE
    status: str | None = None
    eta: float | None = None
    code: int | None = None
    for part in header.replace(";", ",").split(","):
        name, _, value = part.strip().partition("=")
        name, value = name.strip().lower(), value.strip().strip('"')
        if name == "status":
            if value not in _STATUSES:
                raise _reject(header, "status must be processing or success")
            status = value
        elif name == "eta":
            try:
                eta = float(value)
            except ValueError:
                raise _reject(header, "eta must be a number of seconds") from None
            if not 0 <= eta <= 86400:
                raise _reject(header, "eta must be between 0 and 86400 seconds")
        elif name == "code":
            if not value.isdigit() or int(value) not in FORCEABLE_CODES:
                codes = "|".join(str(c) for c in sorted(FORCEABLE_CODES))
                raise _reject(header, f"code must be one of {codes}")
            code = int(value)
    if eta is not None and status is None:
        status = "processing"
    return Preferences(status=status, eta=eta, code=code)
