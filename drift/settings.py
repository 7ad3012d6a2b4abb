"""Settings of ``t2i lint``, ``t2i diff``, ``t2i drift`` and ``t2i proxy``: keyword-only dataclasses
with named defaults.

Each field is also an option of its command and a ``T2I_<COMMAND>_<OPTION>`` environment
variable, with its help and default stated here once (``spec.options`` makes the
options). :class:`ReportSettings` holds what lint, diff and drift share (``--format``,
``--fail-on``), so the three say it the same way. Tests build the settings directly;
each checks its values and names the offending one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from t2i_contract.contract_tests.generation import PROFILES
from t2i_contract.contract_tests.settings import (
    DEFAULT_PROFILE,
    DEFAULT_TIMEOUT,
    check_ids,
    max_failures_setting,
    operations_setting,
    progress_setting,
    rate_limit_setting,
    record_setting,
)
from t2i_contract.spec.options import setting
from t2i_contract.spec.packs import contract_setting
from t2i_contract.spec.reports import FORMATS, format_setting, output_setting, path_prefix_setting

from .findings import Level, normalise_level

__all__ = [
    "DEFAULT_FAIL_ON", "DEFAULT_HOST", "DEFAULT_IMAGE_CHECKS", "DEFAULT_INVALID_RATIO", "DEFAULT_MAX_WAIT",
    "DEFAULT_PORT", "DEFAULT_PROXY_TIMEOUT", "DEFAULT_SAMPLES", "DEFAULT_TIMEOUT", "DEFAULT_UPSTREAM", "FORMATS",
    "DiffSettings", "DriftSettings", "LintSettings", "ProxySettings", "ReportSettings",
]

DEFAULT_FAIL_ON: Level = "error"

_SPEC_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@dataclass(frozen=True, kw_only=True)
class ReportSettings:
    """How findings are printed and which of them fail the run."""

    format: str = format_setting()
    output: tuple[tuple[str, Path], ...] = output_setting()
    path_prefix: Path | None = path_prefix_setting()
    fail_on: Level = setting(DEFAULT_FAIL_ON, parse=normalise_level, metavar="error|warning|note",
                             help="Exit 1 when a finding is at this level or more severe (any case; warn, info and "
                                  "ERR are read too).")


@dataclass(frozen=True, kw_only=True)
class LintSettings:
    """One lint run."""

    spec: Path | None = setting(None, type=_SPEC_FILE, argument=True,
                                help="The document to lint (default: this toolkit's own spec).")
    contract: str | None = contract_setting(role="The document to lint, instead of SPEC")
    list_rules: bool = setting(False, help="List every rule id with its level and what it finds, then exit.")

    def __post_init__(self) -> None:
        if self.spec is not None and self.contract is not None:
            raise ValueError(f"give the document once: SPEC ({self.spec}) or contract ({self.contract!r}), not both")


@dataclass(frozen=True, kw_only=True)
class DiffSettings:
    """One diff run; ``old`` and ``new`` are needed unless ``list_rules``."""

    old: Path | None = setting(None, type=_SPEC_FILE, argument=True, help="The document clients were built on.")
    new: Path | None = setting(None, type=_SPEC_FILE, argument=True, help="The document that replaces it.")
    contract: str | None = contract_setting(role="The document clients were built on, instead of OLD (the one "
                                                 "document given is then NEW)", default_text="none")
    list_rules: bool = setting(False, help="List every rule id with its level and what it finds, then exit.")

    def __post_init__(self) -> None:
        if self.contract is not None and self.new is not None:
            raise ValueError(f"with contract ({self.contract!r}) as the old document, give only NEW, "
                             f"got {self.old} and {self.new}")


DEFAULT_SAMPLES = 20
DEFAULT_INVALID_RATIO = 0.2
DEFAULT_MAX_WAIT = 120.0
DEFAULT_IMAGE_CHECKS = 3
DEFAULT_SEED = 0


@dataclass(frozen=True, kw_only=True)
class DriftSettings:
    """One drift run."""

    base_url: str = setting(help="The server to check, e.g. http://127.0.0.1:4010.")
    samples: int = setting(DEFAULT_SAMPLES, type=click.IntRange(min=1),
                           help="Requests to send (about --invalid-ratio of them invalid).")
    key: str | None = setting(None, default_text="the contract tests' key",
                              help="A key the server accepts, sent in every body; empty means none given, as in t2i "
                                   "test.")
    model_id: str | None = setting(None, default_text="the spec's example", help="A model the server has.")
    loras: tuple[str, ...] = setting((), flag="lora", deprecated_envvars=("T2I_DRIFT_LORAS",),
                                     help="A LoRA the server has; repeat for more (space-separated in the "
                                          "environment variable).")
    profile: str = setting(DEFAULT_PROFILE, type=click.Choice(PROFILES),
                           help="cheap: small images and few steps (GPU servers); full: the schema's whole range.")
    invalid_ratio: float = setting(DEFAULT_INVALID_RATIO, type=click.FloatRange(0, 1),
                                   help="Share of the requests that are invalid on purpose.")
    seed: int = setting(DEFAULT_SEED, help="Seed of the request generator; runs with one seed can be compared.")
    timeout: float = setting(DEFAULT_TIMEOUT, type=click.FloatRange(min=0, min_open=True),
                             help="Seconds to wait for one HTTP answer (as long as t2i test: a backend may take "
                                  "its whole sync timeout before answering).")
    max_wait: float = setting(DEFAULT_MAX_WAIT, type=click.FloatRange(min=0),
                              help="Seconds to follow one processing generation before giving up.")
    image_checks: int = setting(DEFAULT_IMAGE_CHECKS, type=click.IntRange(min=0),
                                help="Most generated images downloaded and measured.")
    spec_path: Path | None = setting(None, flag="spec", type=_SPEC_FILE, deprecated_envvars=("T2I_DRIFT_SPEC_PATH",),
                                     default_text="the bundled spec/text2img.yaml",
                                     help="The contract to hold the server to.")
    contract: str | None = contract_setting(role="The contract to hold the server to, instead of --spec")
    checks: frozenset[str] = setting(default_factory=frozenset, parse=check_ids, repeatable=True, metavar="A,B",
                                     help="Report only these drift rules, by the ids the findings carry (e.g. "
                                          "type-mismatch,default-not-applied): comma-separated, or repeat the flag.")
    operations: tuple[str, ...] = operations_setting()
    max_failures: int | None = max_failures_setting(
        "Stop sending after this many error-level verdicts on requests (a valid body refused, an invalid one "
        "accepted, a request failed, a default not applied); schema drift is tallied from what was sent.")
    rate_limit: float | None = rate_limit_setting()
    record: Path | None = record_setting()
    progress: bool = progress_setting()

    def __post_init__(self) -> None:
        from .observe import DRIFT_RULES

        unknown = sorted(set(self.checks) - set(DRIFT_RULES))
        if unknown:
            raise ValueError(f"checks must be drift rules among {', '.join(DRIFT_RULES)}, got {unknown}")
        object.__setattr__(self, "checks", frozenset(self.checks))
        object.__setattr__(self, "operations", tuple(self.operations))
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {self.base_url!r}")
        if self.samples < 1:
            raise ValueError(f"samples must be 1 or more, got {self.samples}")
        if not 0 <= self.invalid_ratio <= 1:
            raise ValueError(f"invalid_ratio must be between 0 and 1, got {self.invalid_ratio}")


DEFAULT_UPSTREAM = "http://127.0.0.1:4010"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4011
DEFAULT_PROXY_TIMEOUT = DEFAULT_TIMEOUT  # one HTTP answer, as for t2i test and t2i drift


@dataclass(frozen=True, kw_only=True)
class ProxySettings:
    """One proxy: where to listen and which server to forward to."""

    upstream: str = setting(DEFAULT_UPSTREAM, help="The server to forward to.")
    host: str = setting(DEFAULT_HOST, help="Interface to listen on.")
    port: int = setting(DEFAULT_PORT, type=click.IntRange(0, 65535), help="Port to listen on.")
    timeout: float = setting(DEFAULT_PROXY_TIMEOUT, type=click.FloatRange(min=0, min_open=True),
                             help="Seconds to wait for the upstream's answer.")
    contract: str | None = contract_setting(role="The contract the traffic is checked against")

    def __post_init__(self) -> None:
        if not self.upstream.startswith(("http://", "https://")):
            raise ValueError(f"upstream must be an http(s) URL, got {self.upstream!r}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {self.port}")
