"""Settings of one mock server, as a keyword-only dataclass with named defaults.

``t2i mock`` fills a :class:`MockConfig` from its flags (each also readable from a
``T2I_MOCK_*`` environment variable); tests build one directly. Nothing here does
I/O: the store, the webhook sender and the server read what they need from it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

__all__ = [
    "DEFAULT_ETA",
    "DEFAULT_HOST",
    "DEFAULT_MAX_BODY",
    "DEFAULT_PORT",
    "DEFAULT_MAX_JOBS",
    "DEFAULT_TTL",
    "DEFAULT_WORKERS",
    "DEFAULT_SERVER",
    "SERVERS",
    "MockConfig",
    "parse_keys",
    "parse_latency",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4010
DEFAULT_WORKERS = 1
DEFAULT_THREADS: int | None = None  # auto: see MockConfig.worker_threads
SERVERS = ("granian", "gunicorn")
DEFAULT_SERVER = "granian"
DEFAULT_PROCESSING_RATIO = 0.0
DEFAULT_ETA = 2.0
DEFAULT_TTL = 3600.0
DEFAULT_MAX_JOBS = 100_000
DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_JOURNAL_LIMIT = 1000
DEFAULT_WEBHOOK_ATTEMPTS = 3
DEFAULT_WEBHOOK_BACKOFF = 0.5
DEFAULT_WEBHOOK_TIMEOUT = 10.0
DEFAULT_RETRY_AFTER = 30


@dataclass(frozen=True, kw_only=True)
class MockConfig:
    """Everything that changes how the mock behaves.

    ``latency`` is a (low, high) range in milliseconds; each API answer waits a
    uniformly drawn time in it. ``max_queued`` caps how many jobs may be pending
    at once (None: no cap). ``db_path`` is the SQLite file shared by every
    worker; None means a fresh file in a temporary folder (in memory, on /dev/shm,
    where there is one) that is removed when the app is closed. ``max_jobs`` bounds
    the store however fast requests come: the oldest jobs go first. ``fast_path``
    answers valid text2img calls without Flask's request machinery (``fastpath.py``);
    turning it off changes speed only.
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    workers: int = DEFAULT_WORKERS
    threads: int | None = DEFAULT_THREADS
    server: str = DEFAULT_SERVER
    keys: tuple[str, ...] = ()
    processing_ratio: float = DEFAULT_PROCESSING_RATIO
    eta: float = DEFAULT_ETA
    max_queued: int | None = None
    latency: tuple[float, float] = (0.0, 0.0)
    ttl: float = DEFAULT_TTL
    max_jobs: int = DEFAULT_MAX_JOBS
    max_body: int = DEFAULT_MAX_BODY
    journal_limit: int = DEFAULT_JOURNAL_LIMIT
    webhook_attempts: int = DEFAULT_WEBHOOK_ATTEMPTS
    webhook_backoff: float = DEFAULT_WEBHOOK_BACKOFF
    webhook_timeout: float = DEFAULT_WEBHOOK_TIMEOUT
    retry_after: int = DEFAULT_RETRY_AFTER
    db_path: Path | None = None
    fast_path: bool = True

    def __post_init__(self) -> None:
        checks = [
            (0.0 <= self.processing_ratio <= 1.0, "processing_ratio", self.processing_ratio, "between 0 and 1"),
            (self.eta >= 0, "eta", self.eta, "0 or more seconds"),
            (self.max_queued is None or self.max_queued >= 0, "max_queued", self.max_queued, "0 or more"),
            (0 <= self.latency[0] <= self.latency[1], "latency", self.latency, "0 <= low <= high milliseconds"),
            (self.ttl > 0, "ttl", self.ttl, "more than 0 seconds"),
            (self.max_jobs >= 1, "max_jobs", self.max_jobs, "1 or more"),
            (self.workers >= 1, "workers", self.workers, "1 or more"),
            (self.threads is None or self.threads >= 1, "threads", self.threads, "1 or more"),
            (self.server in SERVERS, "server", self.server, " or ".join(SERVERS)),
            (self.webhook_attempts >= 1, "webhook_attempts", self.webhook_attempts, "1 or more"),
            (self.max_body >= 1, "max_body", self.max_body, "1 or more bytes"),
            (0 <= self.port <= 65535, "port", self.port, "between 0 and 65535"),
        ]
        for ok, name, value, accepted in checks:
            if not ok:
                raise ConfigError(name, value, accepted)

    @property
    def worker_threads(self) -> int:
        """``threads``, or when unset the fastest safe choice for the server.

        granian: 1. Its Rust core keeps connections alive and queues requests, and more
        Python threads only fight over the GIL (about 40% fewer requests/s with 4 here);
        but 16 when ``latency`` is set, so simulated waits overlap instead of queueing.
        gunicorn: 4, its gthread worker, which keeps connections alive.
        """
        if self.threads is not None:
            return self.threads
        if self.server == "gunicorn":
            return 4
        return 16 if self.latency[1] > 0 else 1

    @property
    def auth(self) -> bool:
        return bool(self.keys)



def parse_latency(text: str | float | None) -> tuple[float, float]:
    """``"150"`` -> (150, 150); ``"50-200"`` -> (50, 200); milliseconds."""
    if text is None or text == "":
        return (0.0, 0.0)
    if isinstance(text, (int, float)):
        return (float(text), float(text))
    low, sep, high = str(text).strip().partition("-")
    try:
        pair = (float(low), float(high)) if sep else (float(low), float(low))
    except ValueError:
        raise ConfigError("latency", text, "milliseconds as a number (150) or a range (50-200)") from None
    if not 0 <= pair[0] <= pair[1]:
        raise ConfigError("latency", text, "0 <= low <= high milliseconds")
    return pair


def parse_keys(text: str | None) -> tuple[str, ...]:
    """``"k1, k2"`` -> ("k1", "k2"); empty or None turns authentication off."""
    if not text:
        return ()
    return tuple(k.strip() for k in str(text).split(",") if k.strip())

