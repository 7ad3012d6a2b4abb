"""Settings of one mock server, as a keyword-only dataclass with named defaults.

Each field is also a flag of ``t2i mock`` and a ``T2I_MOCK_<FLAG>`` environment
variable, with its help and default stated here once (``spec.options`` makes the
options); tests build a config directly. Nothing here does I/O: the store, the
webhook sender and the server read what they need from it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from t2i_contract.protocol import settings as shared
from t2i_contract.spec.options import setting, split_commas

from .errors import ConfigError
from .journal import MAX_BYTES as DEFAULT_JOURNAL_BYTES
from .store import DEFAULT_MAX_BYTES as DEFAULT_MAX_STORE_BYTES

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
GRANIAN_THREADS = 16
"""granian's request threads per server, shared out among its workers (at least ``GRANIAN_MIN_THREADS`` each)."""
GRANIAN_MIN_THREADS = 8
SERVERS = ("granian", "gunicorn")
DEFAULT_SERVER = "granian"
DEFAULT_PROCESSING_RATIO = 0.0
DEFAULT_ETA = 2.0
DEFAULT_LATENCY = (0.0, 0.0)  # milliseconds, low and high
DEFAULT_TTL = 3600.0
DEFAULT_MAX_JOBS = 100_000
DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_JOURNAL_LIMIT = 1000
DEFAULT_WEBHOOK_BACKOFF = 0.5
DEFAULT_WEBHOOK_TIMEOUT = 10.0


def parse_latency(text: str | float | None) -> tuple[float, float]:
    """``"150"`` -> (150, 150); ``"50-200"`` -> (50, 200); milliseconds."""
    if text is None or text == "":
        return DEFAULT_LATENCY
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


parse_keys = split_commas
"""``"k1, k2"`` -> ("k1", "k2"); empty or None turns authentication off."""


@dataclass(frozen=True, kw_only=True)
class MockConfig:
    """Everything that changes how the mock behaves.

    ``latency`` is a (low, high) range in milliseconds; each API answer waits a
    uniformly drawn time in it. ``max_queued`` caps how many jobs one key may
    have pending (0: no cap). ``db_path`` is the SQLite file shared by every
    worker; None means a fresh file in a temporary folder (in memory, on /dev/shm,
    where there is one) that is removed when the app is closed. ``max_jobs`` bounds
    the store however fast requests come: the oldest jobs go first. ``fast_path``
    answers valid text2img calls without Flask's request machinery (``fastpath.py``);
    turning it off changes speed only.
    """

    host: str = setting(DEFAULT_HOST, help="Interface to listen on.")
    port: int = setting(DEFAULT_PORT, type=click.IntRange(0, 65535), help="Port to listen on.")
    public_url: str | None = shared.public_url()
    workers: int = setting(DEFAULT_WORKERS, type=click.IntRange(1),
                           help="Worker processes; job state is shared between them through SQLite.")
    threads: int | None = setting(
        DEFAULT_THREADS, type=click.IntRange(1), default_text="auto",
        help="Python threads per worker. auto with granian is 16 shared out among the workers, at least 8 "
             "each (a slow input-image URL holds one, not the mock), 16 each with --latency (so simulated waits "
             "overlap); 4 with gunicorn (its gthread worker). 1 is the fastest but one slow request stalls it; "
             "with gunicorn, 1 selects its sync worker: no keep-alive, one request at a time per worker.")
    server: str = setting(DEFAULT_SERVER, type=click.Choice(SERVERS),
                          help="WSGI server: granian (Rust HTTP core, keep-alive; fastest here) or gunicorn.")
    keys: tuple[str, ...] = setting((), parse=parse_keys, metavar="KEY,KEY",
                                    help="Comma-separated API keys. When set, a missing or unknown key gets 401 "
                                         "'Invalid API key'.")
    admin_key: str | None = setting(None, metavar="KEY",
                                    help="The operator's key for /__mock (Authorization: Bearer, X-API-Key or ?key=): "
                                         "it sees and clears every journal entry, where each of --keys sees only its "
                                         "own. Never an API key. Without --keys, it makes /__mock operator-only.")
    processing_ratio: float = setting(DEFAULT_PROCESSING_RATIO, type=click.FloatRange(0, 1),
                                      help="Share of text2img requests answered 'processing' instead of 'success'.")
    eta: float = setting(DEFAULT_ETA, type=click.FloatRange(0),
                         help="Seconds a 'processing' job takes to become ready (header 'Prefer: eta=N' overrides).")
    max_queued: int = shared.max_queued()
    latency: tuple[float, float] = setting(DEFAULT_LATENCY, parse=parse_latency, default_text="0",
                                           metavar="MS|LOW-HIGH",
                                           help="Simulated latency of every API answer in ms: a fixed value (150) "
                                                "or a range (50-200).")
    ttl: float = setting(DEFAULT_TTL, type=click.FloatRange(min=0, min_open=True),
                         help="Seconds jobs and their images are kept after they become ready; fetch then answers "
                              "404.")
    max_jobs: int = setting(DEFAULT_MAX_JOBS, type=click.IntRange(1),
                            help="Most jobs kept however fast they come; the oldest are dropped first.")
    max_store_bytes: int = shared.max_store_bytes(DEFAULT_MAX_STORE_BYTES)
    journal_bytes: int = setting(DEFAULT_JOURNAL_BYTES, type=click.IntRange(1024),
                                 help="Bytes the journal may take in all (each entry keeps at most 16 KiB of its "
                                      "body); the oldest entries are dropped first.")
    max_body: int = setting(DEFAULT_MAX_BODY, type=click.IntRange(1),
                            help="Largest request body accepted, in bytes; larger ones get a 400.")
    journal_limit: int = setting(DEFAULT_JOURNAL_LIMIT, type=click.IntRange(0),
                                 help="Requests kept in the journal at GET /__mock/requests (oldest dropped first).")
    webhook_attempts: int = shared.webhook_attempts()
    webhook_backoff: float = shared.webhook_backoff(DEFAULT_WEBHOOK_BACKOFF)
    webhook_timeout: float = shared.webhook_timeout(DEFAULT_WEBHOOK_TIMEOUT)
    retry_after: int = shared.retry_after()
    # allowed by default: a developer's webhook receiver usually runs on their own machine
    private_urls: str = shared.private_urls("allow")
    models: tuple[str, ...] = setting((), parse=parse_keys, metavar="ID,ID",
                                      help="Comma-separated model ids. When set, any other model_id gets 404 "
                                           "'Model not found: <id>' from every operation.")
    url_allow: tuple[str, ...] = shared.url_allow()
    contract: tuple[str, ...] = shared.contracts()
    db_path: Path | None = setting(None, flag="db", type=click.Path(dir_okay=False, path_type=Path),
                                   default_text="a fresh temporary file",
                                   help="SQLite file for jobs and the journal, shared by every worker.")
    fast_path: bool = setting(True, help="Answer valid text2img calls without Flask's request machinery "
                                         "(same answers, faster); --no-fast-path is for comparing the two.")
    access_log: bool = setting(False, negatable=True, help="Log every request on stdout, one line each.")

    def __post_init__(self) -> None:
        checks = [
            (0.0 <= self.processing_ratio <= 1.0, "processing_ratio", self.processing_ratio, "between 0 and 1"),
            (self.eta >= 0, "eta", self.eta, "0 or more seconds"),
            (self.max_queued >= 0, "max_queued", self.max_queued, "0 or more"),
            (0 <= self.latency[0] <= self.latency[1], "latency", self.latency, "0 <= low <= high milliseconds"),
            (self.ttl > 0, "ttl", self.ttl, "more than 0 seconds"),
            (self.max_jobs >= 1, "max_jobs", self.max_jobs, "1 or more"),
            (self.workers >= 1, "workers", self.workers, "1 or more"),
            (self.threads is None or self.threads >= 1, "threads", self.threads, "1 or more"),
            (self.server in SERVERS, "server", self.server, " or ".join(SERVERS)),
            (self.webhook_attempts >= 1, "webhook_attempts", self.webhook_attempts, "1 or more"),
            (self.max_body >= 1, "max_body", self.max_body, "1 or more bytes"),
            (0 <= self.port <= 65535, "port", self.port, "between 0 and 65535"),
            (self.admin_key is None or (self.admin_key and self.admin_key not in self.keys), "admin_key",
             "[redacted]", "a non-empty key that is not one of --keys"),
        ]
        for ok, name, value, accepted in checks:
            if not ok:
                raise ConfigError(name, value, accepted)
        if self.public_url is not None:
            try:
                object.__setattr__(self, "public_url", shared.parse_public_url(self.public_url))
            except ValueError:
                raise ConfigError("public_url", self.public_url, "an http or https URL with a host") from None

    @property
    def worker_threads(self) -> int:
        """``threads``, or when unset the fastest safe choice for the server.

        granian: 16 request threads per server, shared out among its workers, at least 8 each.
        Its Rust core keeps connections alive and queues requests; with one Python thread it
        is fastest, but then one img2img whose init image trickles in from a slow URL holds
        the worker, health included, for the whole fetch deadline (issue 18, item 8): with 8,
        seven other requests run meanwhile. Past that, more threads let more quick calls be
        answered together (``fastpath.py``): under 16 connections, one worker did 6-7% more
        text2img/s with 16 threads than with 8 (three runs each, same p99), two workers 5%
        fewer with 16 each than with 8 each (issue 22). 16 when ``latency`` is set, so simulated
        waits overlap instead of queueing. gunicorn: 4, its gthread worker, which keeps
        connections alive.
        """
        if self.threads is not None:
            return self.threads
        if self.server == "gunicorn":
            return 4
        if self.latency[1] > 0:
            return 16
        return max(GRANIAN_MIN_THREADS, GRANIAN_THREADS // self.workers)

    @property
    def auth(self) -> bool:
        return bool(self.keys)
