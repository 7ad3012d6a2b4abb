"""What one run of the suite is pointed at and how hard it pushes.

Each field of :class:`Settings` is an option of ``t2i test`` (``--max-examples``,
also ``T2I_TEST_MAX_EXAMPLES``) and of the pytest plugin (``--t2i-max-examples``),
with its help and default stated here once (``spec.options`` makes the options).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from t2i_contract.spec.options import FileToWrite, setting, split_commas
from t2i_contract.spec.packs import contract_setting
from t2i_contract.spec.reports import format_setting, output_setting, path_prefix_setting

from .errors import ConfigError
from .generation import DEFAULT_KEY, PROFILES
from .registry import load_plugins
from .report import CHECKS

__all__ = [
    "DEFAULT_FETCH_MARGIN",
    "DEFAULT_MAX_EXAMPLES",
    "DEFAULT_PROFILE",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WEBHOOK_HOST",
    "DEFAULT_WEBHOOK_TIMEOUT",
    "DEFAULT_WAIT",
    "DEFAULT_WORKERS",
    "CliOutput",
    "Settings",
]

DEFAULT_MAX_EXAMPLES = 20
DEFAULT_PROFILE = "full"
DEFAULT_TIMEOUT = 120.0
DEFAULT_FETCH_MARGIN = 10.0
DEFAULT_ETA = 1.0
DEFAULT_WEBHOOK_TIMEOUT = 15.0
DEFAULT_WEBHOOK_HOST = "127.0.0.1"
DEFAULT_RETRIES = 3
DEFAULT_INPUT_IMAGES = "auto"
INPUT_IMAGE_FORMS = ("auto", "url", "base64")
DEFAULT_MAX_RETRY_WAIT = 10.0
DEFAULT_WAIT = 0.0
DEFAULT_WORKERS = 1


def parse_header(text: str | tuple[str, str]) -> tuple[str, str]:
    """``"X-Team: a b"`` -> ("X-Team", "a b"); the name must be an HTTP token."""
    if isinstance(text, tuple):
        return text
    name, sep, value = str(text).partition(":")
    name = name.strip()
    if not sep or not name or any(c in name for c in ' \t"(),/;<=>?@[\\]{}'):
        raise ValueError(f"a header must be NAME:VALUE, got {text!r}")
    return name, value.strip()


def check_ids(values: object) -> frozenset[str]:
    """``--checks a,b --checks c`` (or a set already) -> {"a", "b", "c"}; checked against the registry later."""
    if isinstance(values, (set, frozenset)):
        return frozenset(values)
    return frozenset(split_commas(values))  # type: ignore[arg-type]


def parse_rate(value: object) -> float | None:
    """``"2/s"``, ``"30/m"``, ``"0.5"`` (a second) -> requests a second; a number passes through."""
    if value is None or isinstance(value, (int, float)):
        return None if value is None else float(value)
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else None
        return parse_rate(value)
    text = str(value).strip().lower()
    number, _, unit = text.partition("/")
    per = {"": 1.0, "s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0}.get(unit.strip())
    try:
        rate = float(number)
    except ValueError:
        rate = -1.0
    if per is None or rate <= 0:
        raise ConfigError("rate_limit", value, "requests per second or minute above 0, such as 2/s or 30/m")
    return rate / per


# -- the run options t2i test and t2i drift share (one name, default and meaning each) --------
def operations_setting() -> Any:
    """``--operation NAME`` (repeatable)."""
    return setting((), flag="operation", parse=split_commas, repeatable=True, metavar="NAME",
                   help="Send only to this operation (text2img, img2img, inpaint, model_reload: the spec's "
                        "operationId or the last segment of its path; fetch goes with text2img); repeat for several. "
                        "Default: every one.")


def max_failures_setting(help: str) -> Any:
    """``--max-failures N``; what counts as a failure is the command's (``help``)."""
    return setting(None, type=click.IntRange(min=1), default_text="no limit", help=help)


def rate_limit_setting() -> Any:
    """``--rate-limit N/s``."""
    return setting(None, parse=parse_rate, metavar="N/s", default_text="no limit",
                   help="Send at most N requests a second (N/s; N/m: a minute), image downloads included, for a slow "
                        "GPU server.")


def record_setting() -> Any:
    """``--record FILE`` (HAR)."""
    return setting(None, type=FileToWrite(),
                   help="Write every request sent (image downloads included) and its answer to FILE as a HAR 1.2 "
                        "archive, which a browser's dev tools import (Network, Import HAR); the key is written as "
                        "$T2I_KEY.")


def progress_setting() -> Any:
    """``--progress/--no-progress``."""
    return setting(True, help="Show progress on stderr: a live line on a terminal, a line per step otherwise.")


class _Header(click.ParamType):
    name = "NAME:VALUE"
    envvar_list_splitter = "\n"  # a value may hold spaces: one header per line in T2I_TEST_HEADER

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> object:
        try:
            return parse_header(value)  # type: ignore[arg-type]
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """One run's configuration. ``key`` None (or empty) means the server is not expected to check keys."""

    base_url: str = setting(help="Root URL of the server under test, e.g. http://127.0.0.1:4010 "
                                 "(https://modelslab.com/api works too).")
    key: str | None = setting(None, help="A valid API key. When given, the auth check expects a wrong key to get "
                                         "a 401; empty means no key, as when it is not given.")
    model_id: str | None = setting(None, default_text="the server's GET /models: the spec's f222-diffusion if "
                                                      "listed, else the first; f222-diffusion when none is listed",
                                   help="A model the server really has.")
    loras: tuple[str, ...] = setting((), flag="lora",
                                     help="A LoRA id the server really has; repeat for several (space-separated in "
                                          "the environment variable). Without it no LoRA is requested.")
    max_examples: int = setting(DEFAULT_MAX_EXAMPLES, type=click.IntRange(min=1),
                                help="Generated bodies per kind (valid, invalid).")
    seed: int | None = setting(None, default_text="random, printed in the report",
                               help="Seed for request generation; the report prints the one used, to rerun a "
                                    "failure.")
    profile: str = setting(DEFAULT_PROFILE, type=click.Choice(PROFILES),
                           help="cheap: 256x256 images, 1-3 steps, at most 2 samples, no upscale (for GPU "
                                "backends); full: the schema's whole range.")
    timeout: float = setting(DEFAULT_TIMEOUT, type=click.FloatRange(min=0.1),
                             help="Seconds to wait for one HTTP answer.")
    eta: float = setting(DEFAULT_ETA, type=click.FloatRange(min=0, max=600),
                         help="Seconds the suite asks a generation to stay processing, where it wants a "
                              "processing answer (Prefer: status=processing, eta=N; lifecycle, webhook, "
                              "model_reload). The mock honours it, so 0.2 makes a run against it faster; "
                              "another server may take what its work takes.")
    fetch_margin: float = setting(DEFAULT_FETCH_MARGIN, type=click.FloatRange(min=0),
                                  help="Seconds beyond a processing answer's eta before lifecycle gives up.")
    webhook_timeout: float = setting(DEFAULT_WEBHOOK_TIMEOUT, type=click.FloatRange(min=0),
                                     help="Seconds to wait for the webhook delivery.")
    webhook_host: str = setting(DEFAULT_WEBHOOK_HOST,
                                help="Address the suite's webhook receiver binds to and advertises; the server "
                                     "must reach it.")
    input_images: str = setting(DEFAULT_INPUT_IMAGES, type=click.Choice(INPUT_IMAGE_FORMS),
                                help="How img2img and inpaint get their input images: url (from an image server "
                                     "the suite runs on --webhook-host, which the server must reach), base64, or "
                                     "auto (url, and base64 once the server refuses or cannot reach the URL).")
    retries: int = setting(DEFAULT_RETRIES, type=click.IntRange(min=0),
                           help="Times a 429 or 503 answer is retried, after its retry_after.")
    max_retry_wait: float = setting(DEFAULT_MAX_RETRY_WAIT, type=click.FloatRange(min=0),
                                    help="Longest wait before a retry, whatever retry_after says.")
    spec_path: Path | None = setting(None, flag="spec", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                                     default_text="the bundled spec/text2img.yaml",
                                     help="The contract to hold the server to, e.g. a branch's spec.")
    contract: str | None = contract_setting(role="The contract to hold the server to (a pack runs the pack checks)")
    wait: float = setting(DEFAULT_WAIT, type=click.FloatRange(min=0),
                          help="Seconds to wait for the server to answer at all before the run starts (for a "
                               "server still starting, as in CI); 0 tries once.")
    headers: tuple[tuple[str, str], ...] = setting((), flag="header", short="-H", type=_Header(),
                                                   metavar="NAME:VALUE",
                                                   help="An extra header sent with every request, image "
                                                        "downloads included; repeat for several (one per line "
                                                        "in the environment variable).")
    workers: int = setting(DEFAULT_WORKERS, type=click.IntRange(min=1),
                           help="Requests in flight at once for the generated bodies; results are still "
                                "reported per check, in the same order.")
    skip: frozenset[str] = setting(default_factory=frozenset, parse=check_ids, repeatable=True, metavar="CHECK",
                                   help="Leave checks out (their results show as skipped): comma-separated, or "
                                        "repeat the flag. Checks: " + ", ".join(CHECKS) + ", and a plugin's.")
    checks: frozenset[str] = setting(default_factory=frozenset, parse=check_ids, repeatable=True, metavar="A,B",
                                     help="Run only these checks (the others show as skipped, 'not among "
                                          "--checks'): comma-separated, or repeat the flag.")
    operations: tuple[str, ...] = operations_setting()
    max_failures: int | None = max_failures_setting("Stop the run after this many failures; the report says where "
                                                    "it stopped.")
    rate_limit: float | None = rate_limit_setting()
    record: Path | None = record_setting()

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError("base_url", self.base_url, "an http(s) URL such as http://127.0.0.1:4010")
        if self.profile not in PROFILES:
            raise ConfigError("profile", self.profile, "one of " + ", ".join(PROFILES))
        load_plugins()  # a plugin's checks may be chosen or left out like the built-in ones
        for name in ("skip", "checks"):
            unknown = set(getattr(self, name)) - set(CHECKS)
            if unknown:
                raise ConfigError(name, sorted(unknown), "check names among " + ", ".join(CHECKS))
        if self.max_failures is not None and self.max_failures < 1:
            raise ConfigError("max_failures", self.max_failures, "at least 1")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ConfigError("rate_limit", self.rate_limit, "a rate above 0, such as 2/s")
        if self.max_examples < 1:
            raise ConfigError("max_examples", self.max_examples, "at least 1")
        if self.workers < 1:
            raise ConfigError("workers", self.workers, "at least 1")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        object.__setattr__(self, "key", self.key or None)
        object.__setattr__(self, "loras", tuple(self.loras))
        object.__setattr__(self, "skip", frozenset(self.skip))
        object.__setattr__(self, "checks", frozenset(self.checks))
        object.__setattr__(self, "operations", tuple(self.operations))
        object.__setattr__(self, "headers", tuple(parse_header(h) for h in self.headers))

    def runs(self, check: str) -> bool:
        """Is ``check`` judged in this run: not left out with --skip, and among --checks when that is given?"""
        return check not in self.skip and (not self.checks or check in self.checks)

    def left_out(self, check: str) -> str:
        """Why ``check`` is not judged ("" when it is)."""
        if check in self.skip:
            return "skipped on request (--skip)"
        return "" if self.runs(check) else "not among --checks"

    @property
    def request_key(self) -> str:
        """The key valid requests carry."""
        return self.key or DEFAULT_KEY


@dataclass(frozen=True, kw_only=True)
class CliOutput:
    """Options only ``t2i test`` has: under pytest, ``--junitxml`` and ``-v`` do the same."""

    format: str = format_setting()
    output: tuple[tuple[str, Path], ...] = output_setting()
    path_prefix: Path | None = path_prefix_setting()
    junit: Path | None = setting(None, type=FileToWrite(),
                                 help="Also write a JUnit XML report to this file (the same as --output "
                                      "junit=FILE).")
    verbose: bool = setting(False, short="-v", help="Say what is being sent, on stderr, a line per step (also on a "
                                                    "terminal).")
    progress: bool = progress_setting()
