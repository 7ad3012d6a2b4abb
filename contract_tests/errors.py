"""Errors of the contract suite itself (not findings about the server under test).

    ContractTestError        base class; ``code`` is a stable string
    ├── ConfigError          a setting is unusable (bad URL, unknown profile, ...)
    └── ServerUnreachable    nothing answers at the base URL at all

Findings about the server are never exceptions: they are
:class:`~contract_tests.report.Failure` records in the report.
"""
from __future__ import annotations

import re

__all__ = ["ConfigError", "ContractTestError", "ServerUnreachable", "short_reason"]


class ContractTestError(Exception):
    """Base class of every error this package raises."""

    code = "contract_test_error"


class ConfigError(ContractTestError):
    code = "config"

    def __init__(self, setting: str, value: object, expected: str) -> None:
        self.setting, self.value = setting, value
        super().__init__(f"{setting} must be {expected}, got {value!r}")


class ServerUnreachable(ContractTestError):
    code = "unreachable"

    def __init__(self, url: str, reason: str) -> None:
        self.url, self.reason = url, reason
        super().__init__(f"no server answers at {url} ({short_reason(reason)}): start it, or pass --base-url where "
                         f"one runs (--wait N gives it N seconds to come up)")


_OS_ERROR = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


def short_reason(reason: str) -> str:
    """The system's words inside a client library's wrapping ("Connection refused"), else the whole reason."""
    found = _OS_ERROR.search(reason)
    waited = re.search(r"\(waited [^)]*\)", reason)
    return (found.group(1).strip() + (f", {waited.group(0)[1:-1]}" if waited else "")) if found else reason
