"""Settings of ``t2i drift`` and ``t2i proxy``: keyword-only dataclasses with named defaults.

The CLI fills them from flags (each also read from a ``T2I_DRIFT_*`` or
``T2I_PROXY_*`` environment variable); tests build them directly. Each checks
its values and names the offending one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_HOST", "DEFAULT_IMAGE_CHECKS", "DEFAULT_INVALID_RATIO", "DEFAULT_MAX_WAIT", "DEFAULT_PORT",
    "DEFAULT_PROXY_TIMEOUT", "DEFAULT_SAMPLES", "DEFAULT_TIMEOUT", "DEFAULT_UPSTREAM", "DriftSettings",
    "ProxySettings",
]

DEFAULT_SAMPLES = 20
DEFAULT_INVALID_RATIO = 0.2
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_WAIT = 120.0
DEFAULT_IMAGE_CHECKS = 3


@dataclass(frozen=True, kw_only=True)
class DriftSettings:
    """One drift run. ``image_checks`` caps how many generated images are downloaded and measured;
    ``spec_path`` is the contract to hold the server to (default: the bundled ``spec/text2img.yaml``)."""

    base_url: str
    samples: int = DEFAULT_SAMPLES
    key: str = ""
    model_id: str | None = None
    loras: tuple[str, ...] = ()
    profile: str = "cheap"
    invalid_ratio: float = DEFAULT_INVALID_RATIO
    seed: int = 0
    timeout: float = DEFAULT_TIMEOUT
    max_wait: float = DEFAULT_MAX_WAIT
    image_checks: int = DEFAULT_IMAGE_CHECKS
    spec_path: Path | None = None

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {self.base_url!r}")
        if self.samples < 1:
            raise ValueError(f"samples must be 1 or more, got {self.samples}")
        if not 0 <= self.invalid_ratio <= 1:
            raise ValueError(f"invalid_ratio must be between 0 and 1, got {self.invalid_ratio}")


DEFAULT_UPSTREAM = "http://127.0.0.1:4010"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4011
DEFAULT_PROXY_TIMEOUT = 120.0


@dataclass(frozen=True, kw_only=True)
class ProxySettings:
    """One proxy: where to listen and which server to forward to."""

    upstream: str = DEFAULT_UPSTREAM
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    timeout: float = DEFAULT_PROXY_TIMEOUT

    def __post_init__(self) -> None:
        if not self.upstream.startswith(("http://", "https://")):
            raise ValueError(f"upstream must be an http(s) URL, got {self.upstream!r}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {self.port}")
