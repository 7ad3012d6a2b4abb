"""``t2i mock``: serve the mock from the command line.

Every option can also be set from the environment as ``T2I_MOCK_<OPTION>`` (the
``t2i`` group runs with ``auto_envvar_prefix="T2I"``); ``--help`` shows each name.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import click

from .config import (
    DEFAULT_ETA,
    DEFAULT_HOST,
    DEFAULT_JOURNAL_LIMIT,
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_JOBS,
    DEFAULT_PORT,
    DEFAULT_PROCESSING_RATIO,
    DEFAULT_SERVER,
    DEFAULT_THREADS,
    DEFAULT_TTL,
    DEFAULT_WEBHOOK_ATTEMPTS,
    DEFAULT_WEBHOOK_BACKOFF,
    DEFAULT_WORKERS,
    SERVERS,
    MockConfig,
    parse_keys,
    parse_latency,
)
from .errors import ConfigError

__all__ = ["command"]


def _latency(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[float, float]:
    try:
        return parse_latency(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("mock", context_settings={"show_default": True})
@click.option("--host", default=DEFAULT_HOST, show_envvar=True, help="Interface to listen on.")
@click.option("--port", default=DEFAULT_PORT, type=click.IntRange(0, 65535), show_envvar=True,
              help="Port to listen on.")
@click.option("--server", default=DEFAULT_SERVER, type=click.Choice(SERVERS), show_envvar=True,
              help="WSGI server: granian (Rust HTTP core, keep-alive; fastest here) or gunicorn.")
@click.option("--workers", default=DEFAULT_WORKERS, type=click.IntRange(1), show_envvar=True,
              help="Worker processes; job state is shared between them through SQLite.")
@click.option("--threads", default=DEFAULT_THREADS, type=click.IntRange(1), show_envvar=True,
              help="Python threads per worker. Default: auto, which is 1 with granian (fastest), 16 with granian "
                   "and --latency (so simulated waits overlap), 4 with gunicorn (its gthread worker). With "
                   "gunicorn, 1 selects its sync worker: no keep-alive, one request at a time per worker.")
@click.option("--keys", default="", show_envvar=True,
              help="Comma-separated API keys. When set, a missing or unknown key gets 401 'Invalid API key'.")
@click.option("--processing-ratio", default=DEFAULT_PROCESSING_RATIO, type=click.FloatRange(0, 1),
              show_envvar=True, help="Share of text2img requests answered 'processing' instead of 'success'.")
@click.option("--eta", default=DEFAULT_ETA, type=click.FloatRange(0), show_envvar=True,
              help="Seconds a 'processing' job takes to become ready (header 'Prefer: eta=N' overrides).")
@click.option("--max-queued", default=None, type=click.IntRange(0), show_envvar=True,
              help="At most N jobs may be pending at once; a request that would queue one more gets 429 "
                   "with retry_after. Unset: no limit.")
@click.option("--latency", default="0", callback=_latency, show_envvar=True,
              help="Simulated latency of every API answer in ms: a fixed value (150) or a range (50-200).")
@click.option("--ttl", default=DEFAULT_TTL, type=click.FloatRange(min=0, min_open=True), show_envvar=True,
              help="Seconds jobs and their images are kept after they become ready; fetch then answers 404.")
@click.option("--max-jobs", default=DEFAULT_MAX_JOBS, type=click.IntRange(1), show_envvar=True,
              help="Most jobs kept however fast they come; the oldest are dropped first.")
@click.option("--max-body", default=DEFAULT_MAX_BODY, type=click.IntRange(1), show_envvar=True,
              help="Largest request body accepted, in bytes; larger ones get a 400.")
@click.option("--journal-limit", default=DEFAULT_JOURNAL_LIMIT, type=click.IntRange(0), show_envvar=True,
              help="Requests kept in the journal at GET /__mock/requests (oldest dropped first).")
@click.option("--webhook-attempts", default=DEFAULT_WEBHOOK_ATTEMPTS, type=click.IntRange(1),
              show_envvar=True, help="Webhook delivery attempts in all, retried on non-2xx or network errors.")
@click.option("--webhook-backoff", default=DEFAULT_WEBHOOK_BACKOFF, type=click.FloatRange(0),
              show_envvar=True, help="Seconds before the first webhook retry; doubles on each further one.")
@click.option("--db", default=None, type=click.Path(dir_okay=False, path_type=Path),
              show_envvar=True, help="SQLite file for jobs and the journal. Default: a fresh temporary file.")
@click.option("--access-log/--no-access-log", default=False, show_envvar=True,
              help="Log every request to stderr.")
def command(host: str, port: int, server: str, workers: int, threads: int | None, keys: str, processing_ratio: float, eta: float,
            max_queued: int | None, latency: tuple[float, float], ttl: float, max_jobs: int, max_body: int,
            journal_limit: int, webhook_attempts: int, webhook_backoff: float, db: Path | None, access_log: bool) -> None:
    """Serve a stateful mock of the text2img API (base URL http://HOST:PORT/api/).

    Per-request control with the Prefer header: 'status=processing, eta=2',
    'status=success', or 'code=401|402|404|429|500|503'. The journal of received
    requests is at GET /__mock/requests (DELETE clears it).
    """
    from .serving import serve
    from .store import JobStore, temporary_folder

    folder, db_path = None, db
    if db_path is None:
        folder = temporary_folder()
        db_path = folder / "mock.sqlite3"
    config = MockConfig(
        host=host, port=port, server=server, workers=workers, threads=threads, keys=parse_keys(keys),
        processing_ratio=processing_ratio, eta=eta, max_queued=max_queued, latency=latency, ttl=ttl,
        max_jobs=max_jobs, max_body=max_body, journal_limit=journal_limit, webhook_attempts=webhook_attempts,
        webhook_backoff=webhook_backoff, db_path=db_path,
    )
    # create the schema once, before the server starts the workers that share it
    JobStore(db_path, ttl=ttl, journal_limit=journal_limit, max_jobs=max_jobs).close()
    click.echo(f"t2i mock: http://{host}:{port}/api/  ({server}, workers={workers}, db={db_path})", err=True)
    try:
        serve(config, access_log=access_log)
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
