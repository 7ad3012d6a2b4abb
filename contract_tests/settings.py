"""What one run of the suite is pointed at and how hard it pushes.

Filled from ``t2i test`` flags (or ``T2I_TEST_*`` environment variables) and
from the pytest plugin's ``--t2i-*`` options.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .errors import ConfigError
from .generation import DEFAULT_KEY, PROFILES
from .report import CHECKS

__all__ = [
    "DEFAULT_FETCH_MARGIN",
    "DEFAULT_MAX_EXAMPLES",
    "DEFAULT_PROFILE",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WEBHOOK_HOST",
    "DEFAULT_WEBHOOK_TIMEOUT",
    "Settings",
]

DEFAULT_MAX_EXAMPLES = 20
DEFAULT_PROFILE = "full"
DEFAULT_TIMEOUT = 120.0
DEFAULT_FETCH_MARGIN = 10.0
DEFAULT_WEBHOOK_TIMEOUT = 15.0
DEFAULT_WEBHOOK_HOST = "127.0.0.1"
DEFAULT_RETRIES = 3
DEFAULT_MAX_RETRY_WAIT = 10.0


@dataclass(frozen=True, kw_only=True)
class Settings:
    """One run's configuration. ``key`` None means the server is not expected to check keys."""

    base_url: str
    key: str | None = None
    model_id: str | None = None
    loras: tuple[str, ...] = ()
    max_examples: int = DEFAULT_MAX_EXAMPLES
    seed: int | None = None
    profile: str = DEFAULT_PROFILE
    junit: Path | None = None
    timeout: float = DEFAULT_TIMEOUT
    fetch_margin: float = DEFAULT_FETCH_MARGIN
    webhook_timeout: float = DEFAULT_WEBHOOK_TIMEOUT
    webhook_host: str = DEFAULT_WEBHOOK_HOST
    retries: int = DEFAULT_RETRIES
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT
    skip: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError("base_url", self.base_url, "an http(s) URL such as http://127.0.0.1:4010")
        if self.profile not in PROFILES:
            raise ConfigError("profile", self.profile, "one of " + ", ".join(PROFILES))
        unknown = set(self.skip) - set(CHECKS)
        if unknown:
            raise ConfigError("skip", sorted(unknown), "check names among " + ", ".join(CHECKS))
        if self.max_examples < 1:
            raise ConfigError("max_examples", self.max_examples, "at least 1")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        object.__setattr__(self, "loras", tuple(self.loras))
        object.__setattr__(self, "skip", frozenset(self.skip))

    @property
    def request_key(self) -> str:
        """The key valid requests carry."""
        return self.key or DEFAULT_KEY
