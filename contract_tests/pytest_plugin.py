"""The contract suite as a pytest plugin: ``pytest --t2i-base-url URL``.

Registered through the ``pytest11`` entry point, so it loads wherever the
package is installed. It is inert unless ``--t2i-base-url`` is given: it only
adds its options and the ``t2i_contract`` marker. With a base URL it adds one
test item per check (``t2i_contract[conformance]``, ...), all marked
``t2i_contract``; the suite runs once, on the first item, and each item passes,
fails with that check's findings, or is skipped with the reason. Select them
alone with ``-m t2i_contract``; ``--junitxml`` gives the JUnit report. Its options are
the fields of :class:`Settings`, as ``t2i test``'s are, so the two cannot drift apart.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest

from t2i_contract.spec.options import build, argparse_options

from .errors import ConfigError, ContractTestError
from .report import CHECKS, Report
from .settings import Settings

MARKER = "t2i_contract"
PREFIX = "t2i"
_PLUGIN_NAME = "t2i-contract-run"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("t2i", "t2i contract tests (active only with --t2i-base-url)")
    for flag, keywords in argparse_options(Settings, PREFIX):
        group.addoption(flag, **keywords)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}: a check of the t2i contract suite (--t2i-base-url)")
    if config.getoption("t2i_base_url"):
        config.pluginmanager.register(ContractRun(settings_from_options(config)), _PLUGIN_NAME)


def settings_from_options(config: pytest.Config) -> Settings:
    """The same fields, conversions and checks as ``t2i test``, from the ``--t2i-*`` options."""
    dests = [keywords["dest"] for _, keywords in argparse_options(Settings, PREFIX)]
    values = {dest.removeprefix(PREFIX + "_"): config.getoption(dest) for dest in dests}
    try:
        settings: Settings = build(Settings, values, prefix=f"--{PREFIX}-", errors=(ConfigError, ValueError))
    except click.ClickException as exc:
        raise pytest.UsageError(exc.format_message()) from None
    return settings


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
