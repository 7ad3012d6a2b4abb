"""Settings of the reference backend server.

:class:`BackendConfig` is a keyword-only dataclass with named defaults. ``t2i serve``
fills it from its flags, and click reads each flag from ``T2I_SERVE_<FLAG>`` too.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_SYNC_TIMEOUT",
    "DEFAULT_TEMP_TTL",
    "DEFAULT_WEBHOOK_RETRIES",
    "DEFAULT_WORKERS",
    "DTYPES",
    "BackendConfig",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_WORKERS = 1
DEFAULT_SYNC_TIMEOUT = 30.0
DEFAULT_TEMP_TTL = 24 * 3600.0
DEFAULT_WEBHOOK_RETRIES = 2  # 3 attempts in all, as the mock makes
DEFAULT_WEBHOOK_BACKOFF = 1.0
DEFAULT_WEBHOOK_TIMEOUT = 30.0
DEFAULT_MAX_QUEUED = 0
DEFAULT_RETRY_AFTER = 30
DEFAULT_MAX_LOADED_MODELS = 2
DEFAULT_MAX_LORAS = 32
DTYPES = ("float32", "float16", "bfloat16")


@dataclass(kw_only=True)
class BackendConfig:
    """Everything ``create_app`` needs. Folders may be ``None`` when a test injects a generator."""

    models_dir: Path | None = None
    loras_dir: Path | None = None
    vaes_dir: Path | None = None
    data_dir: Path | None = None
    """Where the SQLite job store and the images live; a fresh temporary folder when None."""
    keys: tuple[str, ...] = ()
    """Accepted API keys; empty means any non-empty key is accepted."""
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    public_url: str | None = None
    """Base URL for image and fetch links; by default the URL the request came in on."""
    device: str = "cpu"
    dtype: str = "float32"
    workers: int = DEFAULT_WORKERS
    sync_timeout: float = DEFAULT_SYNC_TIMEOUT
    temp_ttl: float = DEFAULT_TEMP_TTL
    webhook_retries: int = DEFAULT_WEBHOOK_RETRIES
    webhook_backoff: float = DEFAULT_WEBHOOK_BACKOFF
    webhook_timeout: float = DEFAULT_WEBHOOK_TIMEOUT
    max_queued: int = DEFAULT_MAX_QUEUED
    """Most generations waiting per key before 429; 0 means no limit."""
    retry_after: int = DEFAULT_RETRY_AFTER
    max_loaded_models: int = DEFAULT_MAX_LOADED_MODELS
    max_loras: int = DEFAULT_MAX_LORAS
    """LoRA adapters kept loaded per pipeline; the least recently used goes first."""
    torch_threads: int | None = None
    """torch intra-op threads; None keeps torch's default."""

    def __post_init__(self) -> None:
        for name in ("models_dir", "loras_dir", "vaes_dir", "data_dir"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                setattr(self, name, Path(value))
        self.keys = tuple(k for k in self.keys if k)
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.sync_timeout < 0:
            raise ValueError(f"sync_timeout must be 0 or more seconds, got {self.sync_timeout}")
