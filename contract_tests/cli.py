"""``t2i test``: run the contract suite against a server from its URL.

Its options are the fields of :class:`Settings` (shared with the pytest plugin) and of
:class:`CliOutput`, each also read from ``T2I_TEST_<OPTION>``. Exit status, as for
every checking command: 0 when every check passes (or is skipped), 1 when any fails,
2 when the suite cannot run (unusable options, a spec that cannot be read, no server
answering at --base-url).
"""
from __future__ import annotations

import sys

import click

from t2i_contract.spec import SpecError, load_spec
from t2i_contract.spec.options import settings_command
from t2i_contract.spec.packs import load_contract
from t2i_contract.spec.reports import write_outputs

from .errors import ConfigError, ServerUnreachable
from .progress import Progress
from .settings import CliOutput, Settings
from .suite import run_suite

__all__ = ["command"]


@settings_command("test", Settings, CliOutput, errors=(ConfigError, ValueError))
def command(settings: Settings, output: CliOutput) -> None:
    """Check that the server at --base-url honours the text2img contract.

    Sends generated valid and invalid requests (hypothesis and schemathesis,
    from spec/), polls fetch, downloads images and listens for a webhook, then
    prints the results grouped by check, each failure with a curl command that
    reproduces it (the key written as $T2I_KEY). Exits 0 when every check
    passes, 1 when one fails, 2 when the suite cannot run.
    """
    progress = Progress("t2i test", live=False if output.verbose else None) \
        if output.progress or output.verbose else None
    try:
        spec = load_contract(settings.contract) if settings.contract else load_spec(settings.spec_path)
        report = run_suite(settings, spec, progress=progress)
    except (ServerUnreachable, SpecError, ConfigError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    outputs = list(output.output) + ([("junit", output.junit)] if output.junit is not None else [])
    write_outputs(report.to_run(spec.path, spec.responses.operation_pointer), output.format, outputs,
                  output.path_prefix)
    sys.exit(0 if report.ok else 1)
