"""The contract suite as a pytest plugin: ``pytest --t2i-base-url URL``.

Registered through the ``pytest11`` entry point, so it loads wherever the
package is installed. It is inert unless ``--t2i-base-url`` is given: it only
adds its options and the ``t2i_contract`` marker. With a base URL it adds one
test item per check (``t2i_contract[conformance]``, ...), all marked
``t2i_contract``; the suite runs once, on the first item, and each item passes,
fails with that check's findings, or is skipped with the reason. Select them
alone with ``-m t2i_contract``; ``--junitxml`` gives the JUnit report.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .errors import ConfigError, ContractTestError
from .generation import PROFILES
from .report import CHECKS, Report
from .settings import (
    DEFAULT_FETCH_MARGIN,
    DEFAULT_MAX_EXAMPLES,
    DEFAULT_PROFILE,
    DEFAULT_TIMEOUT,
    DEFAULT_WEBHOOK_HOST,
    DEFAULT_WEBHOOK_TIMEOUT,
    Settings,
)

MARKER = "t2i_contract"
_PLUGIN_NAME = "t2i-contract-run"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("t2i", "t2i contract tests (active only with --t2i-base-url)")
    group.addoption("--t2i-base-url", default=None, help="Run the contract checks against this server root URL.")
    group.addoption("--t2i-key", default=None, help="A valid API key; enables the auth check.")
    group.addoption("--t2i-model-id", default=None, help="A model id the server has.")
    group.addoption("--t2i-lora", action="append", default=[], help="A LoRA id the server has (repeatable).")
    group.addoption("--t2i-max-examples", type=int, default=DEFAULT_MAX_EXAMPLES,
                    help=f"Generated bodies per kind (default {DEFAULT_MAX_EXAMPLES}).")
    group.addoption("--t2i-seed", type=int, default=None, help="Seed for request generation.")
    group.addoption("--t2i-profile", choices=PROFILES, default=DEFAULT_PROFILE,
                    help=f"cheap (small images, for GPU backends) or full (default {DEFAULT_PROFILE}).")
    group.addoption("--t2i-timeout", type=float, default=DEFAULT_TIMEOUT, help="Seconds per HTTP answer.")
    group.addoption("--t2i-fetch-margin", type=float, default=DEFAULT_FETCH_MARGIN,
                    help="Seconds beyond eta before lifecycle gives up.")
    group.addoption("--t2i-webhook-timeout", type=float, default=DEFAULT_WEBHOOK_TIMEOUT,
                    help="Seconds to wait for the webhook delivery.")
    group.addoption("--t2i-webhook-host", default=DEFAULT_WEBHOOK_HOST,
                    help="Address of the suite's webhook receiver.")
    group.addoption("--t2i-skip", action="append", default=[], choices=list(CHECKS), help="Leave a check out.")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: a check of the t2i contract suite (--t2i-base-url)")
    base_url = config.getoption("t2i_base_url")
    if base_url:
        try:
            settings = settings_from_options(config)
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
        config.pluginmanager.register(ContractRun(settings), _PLUGIN_NAME)


def settings_from_options(config: pytest.Config) -> Settings:
    option = config.getoption
    return Settings(
        base_url=option("t2i_base_url"), key=option("t2i_key"), model_id=option("t2i_model_id"),
        loras=tuple(option("t2i_lora")), max_examples=option("t2i_max_examples"), seed=option("t2i_seed"),
        profile=option("t2i_profile"), timeout=option("t2i_timeout"), fetch_margin=option("t2i_fetch_margin"),
        webhook_timeout=option("t2i_webhook_timeout"), webhook_host=option("t2i_webhook_host"),
        skip=frozenset(option("t2i_skip")),
    )


class ContractRun:
    """Adds the check items and runs the suite once for all of them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._report: Report | None = None
        self._error: str | None = None

    def report(self) -> Report:
        if self._report is None and self._error is None:
            from .suite import run_suite

            try:
                self._report = run_suite(self.settings)
            except ContractTestError as exc:
                self._error = str(exc)
            except Exception as exc:  # a crash fails every item once, instead of rerunning the suite
                self._error = f"the contract suite crashed: {type(exc).__name__}: {exc}"
                raise
        if self._error is not None:
            raise CheckFailed(self._error)
        assert self._report is not None
        return self._report

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        for check in CHECKS:
            item = CheckItem.from_parent(session, name=f"{MARKER}[{check}]", check=check, run=self)
            item.add_marker(MARKER)
            items.append(item)

    def pytest_report_header(self, config: pytest.Config) -> str:
        return f"t2i contract: {self.settings.base_url} (profile {self.settings.profile})"


class CheckFailed(Exception):
    """One check's findings, shown as the item's failure."""


class CheckItem(pytest.Item):
    def __init__(self, *, check: str, run: ContractRun, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check, self.run = check, run

    def runtest(self) -> None:
        report = self.run.report()
        result = report.results[self.check]
        if result.outcome == "SKIP":
            pytest.skip(result.skip_reason)
        if result.failures:
            lines = [f"{self.check}: {CHECKS[self.check]}"]
            lines += [failure.render(i) for i, failure in enumerate(result.failures, 1)]
            lines.append(f"(seed {report.seed}; rerun with --t2i-seed {report.seed})")
            raise CheckFailed("\n".join(lines))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CheckFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)  # type: ignore[arg-type]

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{MARKER}[{self.check}]"
