"""``t2i mock``: serve the mock from the command line.

Its options are the fields of :class:`MockConfig` (``spec.options`` makes them), each
also read from ``T2I_MOCK_<OPTION>``; ``--help`` shows every name and default.
"""
from __future__ import annotations

import dataclasses
import shutil
import sqlite3

import click

from t2i_contract.protocol.ports import PortTaken, claim_port
from t2i_contract.spec.options import settings_command

from .config import MockConfig

__all__ = ["command"]


@settings_command("mock", MockConfig, context_settings={"show_default": True})
def command(config: MockConfig) -> None:
    """Serve a stateful mock of the text2img API (base URL http://HOST:PORT/api/).

    Per-request control with the Prefer header: 'status=processing, eta=2',
    'status=success', or 'code=401|402|404|429|500|503'. The journal of received
    requests is at GET /__mock/requests (DELETE clears it).
    """
    from t2i_contract.protocol.quiet import quiet
    from t2i_contract.protocol.settings import check_contracts

    from .serving import serve
    from .store import JobStore, temporary_folder

    check_contracts(config.contract)
    try:
        claim = claim_port(config.host, config.port)  # held while serving; granian would share the port
    except PortTaken as exc:
        raise click.ClickException(str(exc)) from None
    folder = None
    if config.db_path is None:
        folder = temporary_folder()
        config = dataclasses.replace(config, db_path=folder / "mock.sqlite3")
    try:  # create the schema once, before the server starts the workers that share it
        JobStore(config.db_path, ttl=config.ttl, journal_limit=config.journal_limit, max_jobs=config.max_jobs,
                 max_bytes=config.max_store_bytes, journal_bytes=config.journal_bytes).close()
    except (OSError, sqlite3.Error) as exc:
        claim.release()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        raise click.ClickException(f"cannot create the job store {config.db_path} ({exc}): pass --db a file in a "
                                   f"folder you can write") from None
    click.echo(f"t2i mock: http://{config.host}:{config.port}/api/  ({config.server}, workers={config.workers}, "
               f"db={config.db_path})", err=True)
    quiet()  # granian's thread-count warning: the mock's threads are chosen on purpose
    try:
        serve(config, access_log=config.access_log)
    finally:
        claim.release()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
