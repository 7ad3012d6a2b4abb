"""The ``t2i lint``, ``t2i diff``, ``t2i drift`` and ``t2i proxy`` commands.

Each is registered in the ``t2i.commands`` entry-point group. Every option can
also come from an environment variable ``T2I_<COMMAND>_<OPTION>`` (the host CLI
runs with ``auto_envvar_prefix="T2I"``). Exit status: 0 when nothing reaches
``--fail-on``, 1 when something does, 2 when a document or server cannot be read.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import click

from .errors import DriftError
from .settings import (
    DEFAULT_HOST,
    DEFAULT_MAX_WAIT,
    DEFAULT_PORT,
    DEFAULT_PROXY_TIMEOUT,
    DEFAULT_SAMPLES,
    DEFAULT_TIMEOUT,
    DEFAULT_UPSTREAM,
    DriftSettings,
    ProxySettings,
)
from .findings import DIFF_LABELS, Finding, Level, exit_code, normalise_level, render

__all__ = ["diff_command", "drift_command", "lint_command", "proxy_command"]

_FORMAT = click.option("--format", "format", type=click.Choice(["text", "json"]), default="text",
                       show_default=True, show_envvar=True, help="Output format.")
_SPEC_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _fail_on(default: str, choices: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def check(ctx: click.Context, param: click.Parameter, value: str) -> Level:
        try:
            return normalise_level(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None

    return click.option("--fail-on", default=default, show_default=True, show_envvar=True, callback=check,
                        metavar=choices, help="Exit 1 when a finding is at this level or more severe.")


def _finish(findings: list[Finding], fmt: str, fail_on: Level, labels: dict[str, str] | None = None) -> None:
    click.echo(render(findings, fmt, labels))
    sys.exit(exit_code(findings, fail_on))


def _guarded(action: Callable[[], list[Finding]]) -> list[Finding]:
    try:
        return action()
    except DriftError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


@click.command("lint")
@click.argument("spec", type=_SPEC_FILE, required=False)
@_FORMAT
@_fail_on("error", "error|warn|info")
@click.option("--list-rules", is_flag=True, help="List every rule id with its level and what it finds, then exit.")
def lint_command(spec: Path | None, format: str, fail_on: Level, list_rules: bool) -> None:
    """Find the places where an OpenAPI document contradicts itself.

    SPEC is a YAML or JSON OpenAPI 3.0/3.1 document, or a Markdown page with the
    document in a fenced yaml block; it defaults to this toolkit's own spec.
    """
    from t2i_contract.spec import SPEC_PATH

    from .lint import RULES, lint_path

    if list_rules:
        for item in RULES.values():
            click.echo(f"{item.id:34} {item.level:5}  {item.summary}")
        return
    _finish(_guarded(lambda: lint_path(spec or SPEC_PATH)), format, fail_on)


@click.command("diff")
@click.argument("old", type=_SPEC_FILE, required=False)
@click.argument("new", type=_SPEC_FILE, required=False)
@_FORMAT
@_fail_on("ERR", "ERR|WARN|INFO")
@click.option("--list-rules", is_flag=True, help="List every rule id with its level and what it finds, then exit.")
def diff_command(old: Path | None, new: Path | None, format: str, fail_on: Level, list_rules: bool) -> None:
    """Sort the changes from spec OLD to spec NEW by what they do to clients.

    ERR breaks existing clients, WARN may break some, INFO is everything else.
    In JSON the levels read error, warn and info, as in lint.
    """
    from .diff import DIFF_RULES, diff_paths

    if list_rules:
        for item in DIFF_RULES.values():
            click.echo(f"{item.id:36} {DIFF_LABELS[item.level]:4}  {item.summary}")
        return
    if old is None or new is None:
        raise click.UsageError("diff needs two documents, OLD and NEW")
    _finish(_guarded(lambda: diff_paths(old, new)), format, fail_on, DIFF_LABELS)


@click.command("drift")
@click.option("--base-url", required=True, show_envvar=True, help="The server to check, e.g. http://127.0.0.1:4010.")
@click.option("--samples", type=click.IntRange(min=1), default=DEFAULT_SAMPLES, show_default=True, show_envvar=True,
              help="Requests to send (about a fifth of them invalid).")
@click.option("--key", default="", show_envvar=True, help="API key sent in every body (default: the contract tests' key).")
@click.option("--model-id", default=None, show_envvar=True, help="A model the server has (default: the spec's example).")
@click.option("--lora", "loras", multiple=True, show_envvar=True, help="A LoRA the server has; repeat for more.")
@click.option("--profile", type=click.Choice(["cheap", "full"]), default="cheap", show_default=True, show_envvar=True,
              help="cheap: small images and few steps (GPU servers); full: the schema's whole range.")
@click.option("--seed", type=int, default=0, show_default=True, show_envvar=True, help="Seed of the request generator.")
@click.option("--spec", "spec_path", type=_SPEC_FILE, default=None, show_envvar=True,
              help="The contract to check against (default: the bundled spec/text2img.yaml).")
@click.option("--timeout", type=float, default=DEFAULT_TIMEOUT, show_default=True, show_envvar=True,
              help="Seconds to wait for one HTTP answer.")
@click.option("--max-wait", type=float, default=DEFAULT_MAX_WAIT, show_default=True, show_envvar=True,
              help="Seconds to follow one processing generation before giving up.")
@_FORMAT
@_fail_on("error", "error|warn|info")
def drift_command(base_url: str, samples: int, key: str, model_id: str | None, loras: tuple[str, ...], profile: str,
                  seed: int, spec_path: Path | None, timeout: float, max_wait: float, format: str,
                  fail_on: Level) -> None:
    """Send generated requests to a live server and report how it drifts from the spec.

    Reports undocumented fields, documented fields and enum values never seen,
    unknown enum values, type mismatches, undocumented statuses and defaults the
    server does not apply. Exits 1 on any finding at --fail-on or above.
    """
    from .live import run_drift

    try:
        settings = DriftSettings(base_url=base_url, samples=samples, key=key, model_id=model_id, loras=loras,
                                 profile=profile, seed=seed, timeout=timeout, max_wait=max_wait,
                                 spec_path=spec_path)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    _finish(_guarded(lambda: run_drift(settings)), format, fail_on)


@click.command("proxy")
@click.option("--upstream", default=DEFAULT_UPSTREAM, show_default=True, show_envvar=True,
              help="The server to forward to.")
@click.option("--host", default=DEFAULT_HOST, show_default=True, show_envvar=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True, show_envvar=True,
              help="Port to listen on.")
@click.option("--timeout", type=float, default=DEFAULT_PROXY_TIMEOUT, show_default=True, show_envvar=True,
              help="Seconds to wait for the upstream's answer.")
def proxy_command(upstream: str, host: str, port: int, timeout: float) -> None:
    """Forward every call to --upstream and report contract violations.

    Each answer carries X-T2I-Contract-Violations (a count) and
    X-T2I-Contract-Report (a JSON list of messages); each call is also logged as
    one line on stderr. Point a client's base URL at the proxy to check its real
    traffic against the spec.
    """
    import logging

    from werkzeug.serving import make_server

    from .proxy import create_app

    try:
        settings = ProxySettings(upstream=upstream, host=host, port=port, timeout=timeout)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(settings.host, settings.port, create_app(settings), threaded=True)
    click.echo(f"t2i proxy: http://{settings.host}:{server.server_port} -> {settings.upstream}", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
