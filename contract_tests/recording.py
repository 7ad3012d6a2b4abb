"""The contract suite's side of the engine: outcomes become verdicts in a :class:`~contract_tests.report.Report`.

:class:`Recorder` adds each :class:`~contract_tests.engine.Outcome` to the report: what
each check judged (its count), and each problem as a failure with the answer that shows
it and a curl reproducer. The first failure of each single-request check is minimised:
optional fields are dropped one at a time while the same check still fails, so the
reproducer is short. A candidate stays on the same side of the oracle (valid or
invalid) as the body it comes from.
"""
from __future__ import annotations

from typing import Any, Callable

from .client import Exchange
from .engine import Engine, Outcome
from .generation import CHEAP_FIELDS, is_valid
from .report import CHECKS, Report

__all__ = ["MINIMISE_BUDGET", "Recorder", "Stopped"]

MINIMISE_BUDGET = 20


class Stopped(Exception):
    """``--max-failures`` reached: the run stops where it is."""


class Recorder:
    """Writes outcomes of ``engine``'s requests into ``report``."""

    def __init__(self, engine: Engine, report: Report, on_record: Callable[[Recorder], None] | None = None) -> None:
        """``on_record`` is told after each outcome is recorded (the live progress line)."""
        self.engine, self.report, self.on_record = engine, report, on_record
        self.minimised: set[str] = set()
        self.failures = 0  # failures recorded so far (--max-failures stops the run)
        self.stop_at = engine.settings.max_failures

    def record(self, out: Outcome, expected: dict[str, str] | None = None, context: str = "",
               retry: Callable[[dict[str, Any]], Outcome] | None = None, body: Any = None,
               operation: str = "text2img") -> None:
        for check, times in out.exercised.items():
            if not self.engine.runs(check):
                continue  # an answer or result check left out (--skip, --checks): not reported
            problems = out.found.get(check) or []
            self.report.timed(check, out.seconds[check])
            if not problems:
                self.report.exercised(check, times)
                continue
            smallest = None
            if retry is not None and isinstance(body, dict) and check not in self.minimised:
                self.minimised.add(check)
                smallest = self.minimise(body, check, retry, operation)
            for index, (problem, exchange) in enumerate(problems):
                exchange = (smallest if index == 0 else None) or exchange  # each failure shows its own answer
                where = context
                if exchange is not None and out.exchange is not None and \
                        exchange.operation != out.exchange.operation:
                    where = "; ".join(filter(None, [context, "the generation was started by: "
                                                    + out.exchange.curl()]))
                self.fail(check, problem, exchange, where, (expected or {}).get(check, ""), counted=False)
            self.report.exercised(check, max(times, 1))  # what was judged; an answer may break it more than once
        if self.on_record is not None:
            self.on_record(self)
        if self.stop_at is not None and self.failures >= self.stop_at:
            raise Stopped(self.failures)

    def fail(self, check: str, problem: str, exchange: Exchange | None = None, context: str = "",
             expected: str = "", counted: bool = True) -> None:
        self.report.fail(check, expected or CHECKS[check], problem, exchange, context, counted=counted)
        self.failures += 1

    def skip(self, check: str, reason: str) -> None:
        self.report.skip(check, reason)

    def note(self, text: str) -> None:
        self.report.notes.append(text)

    def minimise(self, body: dict[str, Any], check: str, retry: Callable[[dict[str, Any]], Outcome],
                 operation: str = "text2img") -> Exchange | None:
        """Drop optional fields while ``check`` still fails; the smallest failing exchange."""
        spec = self.engine.spec
        required = {item.name for item in spec.request_fields(operation) if item.required}
        if self.engine.settings.profile == "cheap":
            required |= CHEAP_FIELDS  # dropping them would fall back to costlier defaults
        validity = is_valid(body, spec, operation)
        smallest: Exchange | None = None
        budget = MINIMISE_BUDGET
        for name in [k for k in body if k not in required]:
            if budget <= 0:
                break
            candidate = {k: v for k, v in body.items() if k != name}
            if is_valid(candidate, spec, operation) != validity:
                continue
            budget -= 1
            attempt = retry(candidate)
            if attempt.found.get(check):
                body, smallest = candidate, attempt.found[check][0][1]
        return smallest
