"""Settings of the reference backend server.

:class:`BackendConfig` is a keyword-only dataclass with named defaults. Each field is
also a flag of ``t2i serve`` and a ``T2I_SERVE_<FLAG>`` environment variable, its help
and default stated here once (``spec.options`` makes the options).
:class:`TinyModelSettings` does the same for ``t2i make-tiny-model``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import click

from t2i_contract.protocol import settings as shared
from t2i_contract.spec.options import Absent, setting, split_commas

__all__ = [
    "DEFAULT_GENERATION_THREADS",
    "DEFAULT_HOST",
    "DEFAULT_MAX_STORE_BYTES",
    "DEFAULT_PORT",
    "DEFAULT_SYNC_TIMEOUT",
    "DEFAULT_TEMP_TTL",
    "DTYPES",
    "MOCK_ONLY_FLAGS",
    "BackendConfig",
    "TinyModelSettings",
    "parse_queue_url",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_GENERATION_THREADS = 1
DEFAULT_SYNC_TIMEOUT = 30.0
DEFAULT_TEMP_TTL = 24 * 3600.0
DEFAULT_WEBHOOK_BACKOFF = 1.0
DEFAULT_WEBHOOK_TIMEOUT = 30.0
DEFAULT_MAX_LOADED_MODELS = 2
DEFAULT_MAX_LORAS = 32
DEFAULT_MAX_STORE_BYTES = 1024**3
"""Bytes the job store and its generated images may take together (1 GiB: about 700 images of 1024x1024)."""
DEFAULT_DEVICE = "cpu"
DEFAULT_DTYPE = "float32"
DEFAULT_TINY_SEED = 0
DTYPES = ("float32", "float16", "bfloat16")

#: The mock's flags that t2i serve and t2i worker do not have, and what they call what the user may have meant:
#: one flag, one meaning on every server (issue 17), and the old spellings never silently mean something.
MOCK_ONLY_FLAGS = {
    "workers": Absent("the mock's process count", "generation threads", "generation-threads"),
    "threads": Absent("the mock's request threads per process", "torch CPU threads", "torch-threads"),
}


QUEUE_SCHEMES = ("redis", "rediss", "unix")


def parse_queue_url(text: str) -> str:
    """``--queue``: a Redis URL, ``redis://HOST:PORT/DB``, ``rediss://...`` or ``unix:///PATH``; anything else
    (``localhost:6379``, no scheme) is a usage error, not a Redis that does not answer."""
    url = str(text).strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in QUEUE_SCHEMES or (parts.scheme != "unix" and not parts.hostname) \
            or (parts.scheme == "unix" and not parts.path):
        raise ValueError(f"expected a Redis URL such as redis://127.0.0.1:6379/0 (schemes: "
                         f"{', '.join(s + '://' for s in QUEUE_SCHEMES)}), got {url!r}")
    return url


_EXISTING_DIR = click.Path(file_okay=False, exists=True, path_type=Path)


@dataclass(kw_only=True)
class BackendConfig:
    """Everything ``create_app`` needs. Folders may be ``None`` when a test injects a generator;
    ``t2i serve`` needs ``models_dir``."""

    models_dir: Path | None = setting(None, flag="models", type=_EXISTING_DIR,
                                      default_text="none: required, except by t2i serve --queue",
                                      help="Folder of models: diffusers folders <id>/ or single files "
                                           "<id>.safetensors (an API process of the distributed mode loads none).")
    loras_dir: Path | None = setting(None, flag="loras", type=_EXISTING_DIR,
                                     help="Folder of LoRA files <id>.safetensors (diffusers/peft or kohya/A1111 "
                                          "keys).")
    vaes_dir: Path | None = setting(None, flag="vaes", type=_EXISTING_DIR, help="Folder of VAE folders <id>/.")
    ip_adapters_dir: Path | None = setting(None, flag="ip-adapters", type=_EXISTING_DIR,
                                           help="Folder of IP-Adapters <id>/ (the spec's ip_adapter_id), each "
                                                "with its weights <id>.safetensors and its image_encoder/.")
    data_dir: Path | None = setting(None, flag="data", type=click.Path(file_okay=False, path_type=Path),
                                    default_text="a new temporary folder; with --queue, required",
                                    help="Where the SQLite job store and the images live.")
    queue: str | None = setting(None, metavar="redis://HOST:PORT/DB", parse=parse_queue_url,
                                default_text="none: one process, SQLite, in-process workers",
                                help="Distributed mode: accept, validate and queue jobs on this Redis for t2i worker "
                                     "processes; load no model. --data must then be a folder every API process "
                                     "and worker shares (the images).")
    images: str | None = setting(None, metavar="s3://BUCKET/PREFIX",
                                 default_text="the images folder under --data",
                                 help="Distributed mode: keep generated images in this S3 (or S3-compatible) bucket "
                                      "instead of a folder, so API processes and workers share no folder; --data "
                                      "is then each process's own scratch space. Credentials as boto3 reads them "
                                      "(AWS_ACCESS_KEY_ID, ...).")
    images_endpoint: str | None = setting(None, metavar="URL", default_text="AWS S3",
                                          help="Endpoint of an S3-compatible store for --images (MinIO, Ceph, ...).")
    keys: tuple[str, ...] = setting((), parse=split_commas, metavar="KEY,KEY",
                                    help="Comma-separated API keys to accept; without it any non-empty key is "
                                         "accepted.")
    host: str = setting(DEFAULT_HOST, help="Interface to listen on.")
    port: int = setting(DEFAULT_PORT, type=click.IntRange(0, 65535), help="Port to listen on.")
    public_url: str | None = shared.public_url()
    device: str = setting(DEFAULT_DEVICE, help="torch device: cpu, cuda, cuda:1...")
    dtype: str = setting(DEFAULT_DTYPE, type=click.Choice(DTYPES),
                         help="torch dtype of the pipelines; float16 and bfloat16 halve memory on a GPU.")
    generation_threads: int = setting(DEFAULT_GENERATION_THREADS, type=click.IntRange(1),
                                      help="Generation worker threads (one pipeline runs one generation at a "
                                           "time).")
    sync_timeout: float = setting(DEFAULT_SYNC_TIMEOUT, type=click.FloatRange(0),
                                  help="Seconds text2img waits for the result before answering processing.")
    temp_ttl: float = setting(DEFAULT_TEMP_TTL, type=click.FloatRange(0),
                              help="Seconds that images of temp requests are kept.")
    webhook_attempts: int = shared.webhook_attempts()
    webhook_backoff: float = shared.webhook_backoff(DEFAULT_WEBHOOK_BACKOFF)
    webhook_timeout: float = shared.webhook_timeout(DEFAULT_WEBHOOK_TIMEOUT)
    # denied by default: a server beside other services must not be a gateway to them
    private_urls: str = shared.private_urls("deny")
    url_allow: tuple[str, ...] = shared.url_allow()
    contract: tuple[str, ...] = shared.contracts()
    max_queued: int = shared.max_queued()
    retry_after: int = shared.retry_after()
    max_store_bytes: int = shared.max_store_bytes(DEFAULT_MAX_STORE_BYTES)
    max_loaded_models: int = setting(DEFAULT_MAX_LOADED_MODELS, type=click.IntRange(1),
                                     help="Pipelines kept loaded; the least recently used goes first.")
    max_loras: int = setting(DEFAULT_MAX_LORAS, type=click.IntRange(1),
                             help="LoRA adapters kept loaded per pipeline; the least recently used goes first.")
    access_log: bool = setting(False, negatable=True,
                               help="Log every request on stdout, one line each (method, path, status, milliseconds).")
    torch_threads: int | None = setting(None, type=click.IntRange(1), default_text="torch's choice",
                                        help="torch CPU (intra-op) threads.")

    def __post_init__(self) -> None:
        for name in ("models_dir", "loras_dir", "vaes_dir", "ip_adapters_dir", "data_dir"):
            value = getattr(self, name)
            if value is not None:
                # Absolute: Flask's send_file reads a relative path against the package, not the cwd.
                setattr(self, name, Path(value).resolve())
        self.keys = tuple(k for k in self.keys if k)
        if self.public_url is not None:
            self.public_url = shared.parse_public_url(self.public_url)
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.generation_threads < 1:
            raise ValueError(f"generation_threads must be at least 1, got {self.generation_threads}")
        if self.sync_timeout < 0:
            raise ValueError(f"sync_timeout must be 0 or more seconds, got {self.sync_timeout}")


@dataclass(frozen=True, kw_only=True)
class TinyModelSettings:
    """What ``t2i make-tiny-model`` writes, and where."""

    directory: Path = setting(type=click.Path(file_okay=False, path_type=Path), argument=True,
                              help="Folder to write the models, LoRAs and VAE into.")
    seed: int = setting(DEFAULT_TINY_SEED, help="Seed of the random weights.")
    progress: bool = setting(True, help="Show a bar of the steps on stderr while they run (on a terminal only).")
