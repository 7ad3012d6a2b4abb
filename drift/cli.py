"""The ``t2i lint``, ``t2i diff``, ``t2i drift`` and ``t2i proxy`` commands.

Each is registered in the ``t2i.commands`` entry-point group. Their options are the
fields of the settings in :mod:`drift.settings`, each also read from
``T2I_<COMMAND>_<OPTION>``. lint, diff and drift print their findings in any format
of :mod:`spec.reports` (``--format``, and ``--output FORMAT=FILE`` for more), located
in the spec files they read. Exit status: 0 when nothing reaches ``--fail-on``, 1 when
something does, 2 when a document or server cannot be read or an option is unusable.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Iterable, Sequence

import click

from t2i_contract.spec.options import settings_command
from t2i_contract.spec.reports import level_word, write_outputs

from .errors import DriftError
from .findings import Finding, exit_code, to_run
from .settings import DiffSettings, DriftSettings, LintSettings, ProxySettings, ReportSettings

__all__ = ["diff_command", "drift_command", "lint_command", "proxy_command"]


def _finish(command: str, findings: list[Finding], report: ReportSettings, rules: Iterable[object],
            spec_files: Sequence[Path]) -> None:
    run = to_run(findings, tool=f"t2i {command}", rules=rules, spec_files=spec_files)  # type: ignore[arg-type]
    write_outputs(run, report.format, report.output, report.path_prefix)
    sys.exit(exit_code(findings, report.fail_on))


def _contract_file(name_or_path: str | None) -> Path:
    """The file of ``--contract`` (a pack's name or a path; none: the default pack); an unknown one exits 2."""
    from t2i_contract.spec import SpecLoadError
    from t2i_contract.spec.packs import contract_path

    try:
        return contract_path(name_or_path)
    except SpecLoadError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def _guarded(action: Callable[[], list[Finding]]) -> list[Finding]:
    try:
        return action()
    except DriftError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


@settings_command("lint", LintSettings, ReportSettings, context_settings={"show_default": True})
def lint_command(settings: LintSettings, report: ReportSettings) -> None:
    """Find the places where an OpenAPI document contradicts itself.

    SPEC is a YAML or JSON OpenAPI 3.0/3.1 document, or a Markdown page with the
    document in a fenced yaml block; --contract names a contract pack (or a
    file) instead. It defaults to this toolkit's own spec. For a contract,
    lint also says which generic image semantics each operation leaves
    unmapped (rule semantics-unmapped).
    """
    from .lint import RULES, lint_path

    if settings.list_rules:
        for item in RULES.values():
            click.echo(f"{item.id:34} {level_word(item.level):7}  {item.summary}")
        return
    path = settings.spec or _contract_file(settings.contract)
    _finish("lint", _guarded(lambda: lint_path(path)), report, RULES.values(), [path])


@settings_command("diff", DiffSettings, ReportSettings, context_settings={"show_default": True})
def diff_command(settings: DiffSettings, report: ReportSettings) -> None:
    """Sort the changes from spec OLD to spec NEW by what they do to clients.

    An error breaks existing clients, a warning may break some, a note is
    everything else (in JSON the levels read error, warn and info, as in lint).
    """
    from .diff import DIFF_RULES, diff_paths

    if settings.list_rules:
        for item in DIFF_RULES.values():
            click.echo(f"{item.id:36} {level_word(item.level):7}  {item.summary}")
        return
    old, new = settings.old, settings.new
    if settings.contract is not None:
        old, new = _contract_file(settings.contract), old
    if old is None or new is None:
        raise click.UsageError("diff needs two documents, OLD and NEW (or --contract and NEW)")
    _finish("diff", _guarded(lambda: diff_paths(old, new)), report, DIFF_RULES.values(), [new, old])


@settings_command("drift", DriftSettings, ReportSettings, context_settings={"show_default": True})
def drift_command(settings: DriftSettings, report: ReportSettings) -> None:
    """Send generated requests to a live server and report how it drifts from the spec.

    Reports undocumented fields, documented fields and enum values never seen,
    unknown enum values, type mismatches, undocumented statuses and defaults the
    server does not apply. Exits 1 on any finding at --fail-on or above.
    """
    from t2i_contract.spec import SPEC_PATH

    from .live import run_drift
    from .observe import DRIFT_RULES

    _finish("drift", _guarded(lambda: run_drift(settings)), report, DRIFT_RULES.values(),
            [_contract_file(settings.contract) if settings.contract else settings.spec_path or SPEC_PATH])


@settings_command("proxy", ProxySettings, context_settings={"show_default": True})
def proxy_command(settings: ProxySettings) -> None:
    """Forward every call to --upstream and report contract violations.

    Each answer carries X-T2I-Contract-Violations (a count) and
    X-T2I-Contract-Report (a JSON list of messages); each call is also logged as
    one line on stderr. Point a client's base URL at the proxy to check its real
    traffic against the spec.
    """
    import logging
    import socket

    from werkzeug.serving import make_server

    from .proxy import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:  # bound here, so a port in use is one line and exit 1, as t2i mock and t2i serve say it
        listening = socket.create_server((settings.host, settings.port),
                                         family=socket.AF_INET6 if ":" in settings.host else socket.AF_INET)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None
    with listening:  # werkzeug serves a duplicate of it
        server = make_server(settings.host, settings.port, create_app(settings), threaded=True, fd=listening.fileno())
        port = listening.getsockname()[1]
    click.echo(f"t2i proxy: http://{settings.host}:{port} -> {settings.upstream}", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
