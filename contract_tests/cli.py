"""``t2i test``: run the contract suite against a server from its URL.

Exit status: 0 when every check passes (or is skipped), 1 when any fails or
the server does not answer, 2 for unusable options.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .errors import ConfigError, ServerUnreachable
from .generation import PROFILES
from .report import CHECKS
from .settings import (
    DEFAULT_FETCH_MARGIN,
    DEFAULT_MAX_EXAMPLES,
    DEFAULT_PROFILE,
    DEFAULT_TIMEOUT,
    DEFAULT_WEBHOOK_HOST,
    DEFAULT_WEBHOOK_TIMEOUT,
    Settings,
)
from .suite import run_suite

__all__ = ["command"]


@click.command("test")
@click.option("--base-url", required=True, show_envvar=True,
              help="Root URL of the server under test, e.g. http://127.0.0.1:4010 (https://modelslab.com/api "
                   "works too).")
@click.option("--key", default=None, show_envvar=True,
              help="A valid API key. When given, the auth check expects a wrong key to get a 401.")
@click.option("--model-id", default=None, show_envvar=True,
              help="A model the server really has (default: the spec example's f222-diffusion).")
@click.option("--lora", "lora", multiple=True, show_envvar=True,
              help="A LoRA id the server really has; repeat for several (space-separated in the environment "
                   "variable). Without it no LoRA is requested.")
@click.option("--max-examples", type=click.IntRange(min=1), default=DEFAULT_MAX_EXAMPLES, show_default=True,
              show_envvar=True, help="Generated bodies per kind (valid, invalid).")
@click.option("--seed", type=int, default=None, show_envvar=True,
              help="Seed for request generation; the report prints the one used, to rerun a failure.")
@click.option("--profile", type=click.Choice(PROFILES), default=DEFAULT_PROFILE, show_default=True,
              show_envvar=True,
              help="cheap: 256x256 images, 1-3 steps, at most 2 samples (for GPU backends); full: the whole range.")
@click.option("--junit", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              show_envvar=True, help="Also write a JUnit XML report to this file, for CI.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=DEFAULT_TIMEOUT, show_default=True,
              show_envvar=True, help="Seconds to wait for one HTTP answer.")
@click.option("--fetch-margin", type=click.FloatRange(min=0), default=DEFAULT_FETCH_MARGIN, show_default=True,
              show_envvar=True, help="Seconds beyond a processing answer's eta before lifecycle gives up.")
@click.option("--webhook-timeout", type=click.FloatRange(min=0), default=DEFAULT_WEBHOOK_TIMEOUT,
              show_default=True, show_envvar=True, help="Seconds to wait for the webhook delivery.")
@click.option("--webhook-host", default=DEFAULT_WEBHOOK_HOST, show_default=True, show_envvar=True,
              help="Address the suite's webhook receiver binds to and advertises; the server must reach it.")
@click.option("--skip", "skip", multiple=True, type=click.Choice(list(CHECKS)), metavar="CHECK", show_envvar=True,
              help="Leave a check out (its result shows as skipped); repeat for several. Checks: "
                   + ", ".join(CHECKS) + ".")
@click.option("-v", "--verbose", is_flag=True, show_envvar=True, help="Say what is being sent, on stderr.")
def command(base_url: str, key: str | None, model_id: str | None, lora: tuple[str, ...], max_examples: int,
            seed: int | None, profile: str, junit: Path | None, timeout: float, fetch_margin: float,
            webhook_timeout: float, webhook_host: str, skip: tuple[str, ...], verbose: bool) -> None:
    """Check that the server at --base-url honours the text2img contract.

    Sends generated valid and invalid requests (hypothesis and schemathesis,
    from spec/), polls fetch, downloads images and listens for a webhook, then
    prints the results grouped by check, each failure with a curl command that
    reproduces it (the key written as $T2I_KEY). Exits 0 when every check
    passes, 1 otherwise.
    """
    try:
        settings = Settings(base_url=base_url, key=key, model_id=model_id, loras=lora,
                            max_examples=max_examples, seed=seed, profile=profile, junit=junit, timeout=timeout,
                            fetch_margin=fetch_margin, webhook_timeout=webhook_timeout,
                            webhook_host=webhook_host, skip=frozenset(skip))
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        report = run_suite(settings, progress=(lambda line: click.echo(line, err=True)) if verbose else None)
    except ServerUnreachable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(report.render_text())
    if junit is not None:
        report.write_junit(junit)
        click.echo(f"JUnit XML written to {junit}")
    sys.exit(0 if report.ok else 1)
