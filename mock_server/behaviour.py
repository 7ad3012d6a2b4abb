"""The mock's behaviour for the next requests, set at run time without a restart.

A client developer wants the mock to answer ``processing`` for a while, or fail with
a 503, or be slow, without restarting it or changing the client to send ``Prefer``.
``POST /__mock/behaviour`` sets that, ``GET`` shows it, ``DELETE`` resets it::

    {"status": "processing", "eta": 3, "code": 503, "latency": "50-200"}

It is applied exactly as the ``Prefer`` header is, by the same code: the behaviour
becomes a ``Prefer`` value (``status=processing, eta=3, code=503``) that
:meth:`Behaviour.apply` puts in front of the client's own header before the
pipeline reads it with :func:`~t2i_contract.wire.prefer.parse_prefer`, so a
preference the client sends itself wins. A forced ``code`` applies only to the
operations whose spec documents that status (402 to text2img, not to fetch).
``latency`` replaces ``--latency`` while set.

Every worker of a multi-process mock must see the same behaviour, so it lives in a
small JSON file beside the SQLite store (``<db>.behaviour.json``), replaced
atomically on each change. Each change then writes a new random mark into
``<db>.behaviour.mark``, 8 bytes every worker maps into its memory, and a worker
re-reads the JSON only when the mark differs from the one it read it under. So an
API call reads 8 bytes of memory, not the file system: a ``stat`` per call (as
before) gave the GIL up to the request threads waiting for it at every call, which
cost the mock a seventh of its throughput (issue 22).
"""
from __future__ import annotations

import json
import mmap
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from t2i_contract.protocol import RequestRejected
from t2i_contract.wire.prefer import PreferError, parse_prefer
from t2i_contract.spec import Spec

from .config import parse_latency
from .errors import ConfigError

__all__ = ["FIELDS", "Behaviour", "BehaviourFile"]

# The fields of the admin body, with what each accepts (also the page's help text).
FIELDS: dict[str, str] = {
    "status": "processing or success: how text2img answers (null: as --processing-ratio says)",
    "eta": "seconds until a processing job is ready (0-86400)",
    "code": "an error status to answer with, where the operation documents it (401, 402, 404, 429, 500, 503)",
    "latency": "milliseconds before every API answer: 150 or 50-200 (null: --latency)",
}


def _rejected(name: str, value: Any, accepted: str) -> RequestRejected:
    return RequestRejected(name, "behaviour", f"{name} must be {accepted}, got {value!r}", value)


@dataclass(frozen=True)
class Behaviour:
    """What the mock does to every API call until it is reset; empty by default."""

    status: str | None = None
    eta: float | None = None
    code: int | None = None
    latency: tuple[float, float] | None = None

    @property
    def active(self) -> bool:
        return self != NOTHING

    @property
    def prefer(self) -> str:
        """The behaviour as a ``Prefer`` value (without ``code``, which depends on the operation)."""
        parts = []
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.eta is not None:
            parts.append(f"eta={self.eta:g}")
        return ", ".join(parts)

    @classmethod
    def from_json(cls, body: Any, spec: Spec | None = None) -> Behaviour:
        """Read the admin body; every bad field is a 400 naming it, checked by ``parse_prefer`` itself."""
        if not isinstance(body, dict):
            raise _rejected("body", body, "a JSON object with " + ", ".join(FIELDS))
        unknown = sorted(set(body) - set(FIELDS))
        if unknown:
            raise _rejected(unknown[0], body[unknown[0]], "left out: the fields are " + ", ".join(FIELDS))
        status, eta, code, latency = (body.get(name) for name in FIELDS)
        if status is not None:
            if status not in ("processing", "success"):
                raise _rejected("status", status, "processing, success or null")
        if eta is not None and (isinstance(eta, bool) or not isinstance(eta, (int, float))):
            raise _rejected("eta", eta, "a number of seconds")
        if code is not None and (isinstance(code, bool) or not isinstance(code, int)):
            raise _rejected("code", code, "an HTTP error status (4xx or 5xx) as a number")
        for name, value in (("eta", eta), ("code", code)):
            if value is not None:
                try:  # the very check a Prefer header gets
                    parse_prefer(f"{name}={value}")
                except PreferError as exc:
                    raise RequestRejected(name, "behaviour", f"{name}: {exc}", value) from None
        if code is not None and spec is not None and not any(
                code in spec.documented_statuses(operation) for operation, *_ in spec.operations()):
            raise _rejected("code", code, "a status some operation of the spec documents")
        try:
            pair = None if latency is None else parse_latency(latency)
        except ConfigError:
            raise _rejected("latency", latency, "milliseconds as a number (150) or a range (50-200)") from None
        if eta is not None and status is None:
            status = "processing"  # as Prefer reads eta alone
        return cls(status=status, eta=None if eta is None else float(eta), code=code, latency=pair)

    def to_json(self) -> dict[str, Any]:
        low_high = self.latency
        latency = None if low_high is None else (
            f"{low_high[0]:g}" if low_high[0] == low_high[1] else f"{low_high[0]:g}-{low_high[1]:g}")
        return {"status": self.status, "eta": self.eta, "code": self.code, "latency": latency,
                "prefer": self.prefer, "active": self.active}

    def apply(self, environ: dict[str, Any], operation_id: str, spec: Spec) -> str:
        """Put the behaviour in front of the call's ``Prefer`` header; the value added ("" if none)."""
        parts = [self.prefer] if self.prefer else []
        if self.code is not None and self.code in spec.documented_statuses(operation_id):
            parts.append(f"code={self.code}")
        added = ", ".join(parts)
        if added:
            sent = environ.get("HTTP_PREFER")
            environ["HTTP_PREFER"] = f"{added}, {sent}" if sent else added
        return added


NOTHING = Behaviour()


class BehaviourFile:
    """The behaviour shared by every worker on one store: ``<db>.behaviour.json``, and the mark of its last change."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".behaviour.json")
        self._mark = _mapped(db_path.with_name(db_path.name + ".behaviour.mark"), MARK_BYTES)
        self._seen: bytes | None = None  # the mark the behaviour below was read under
        self._current = NOTHING

    def current(self) -> Behaviour:
        mark = self._mark[:MARK_BYTES]
        if mark != self._seen:  # changed since it was read (or never read): read the file
            try:
                self._current = Behaviour.from_json(json.loads(self.path.read_text("utf-8")))
            except FileNotFoundError:
                self._current = NOTHING
            except (OSError, ValueError, RequestRejected, PreferError):  # damaged: keep the last good one
                return self._current
            self._seen = mark
        return self._current

    def set(self, behaviour: Behaviour) -> Behaviour:
        """Write it for every worker (atomically: a reader sees the old file or the new one), then mark the change.

        The file changes before the mark, so a worker that sees the new mark reads this file or a
        newer one; two workers setting at once leave the file of the last and the mark of the last.
        """
        if not behaviour.active:
            self.path.unlink(missing_ok=True)
        else:
            body = {k: v for k, v in behaviour.to_json().items() if k in FIELDS}
            temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            temporary.write_text(json.dumps(body), "utf-8")
            os.replace(temporary, self.path)
        self._mark[:MARK_BYTES] = os.urandom(MARK_BYTES)
        return self.current()

    def close(self) -> None:
        self._mark.close()


MARK_BYTES = 8


def _mapped(path: Path, size: int) -> mmap.mmap:
    """``size`` bytes of the file at ``path`` (made, zero-filled, if missing), shared with every process mapping it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_size < size:
            os.ftruncate(fd, size)  # two workers at once both make it ``size`` zero bytes: the same file
        return mmap.mmap(fd, size)
    finally:
        os.close(fd)
