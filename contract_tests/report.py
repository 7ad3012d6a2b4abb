"""Findings of one run, grouped by check, as text for people and in every CI format.

Each check has a stable name (:data:`CHECKS`). A check that found nothing wrong
passes if it was exercised at least once, and is skipped (with the reason) if
the server never gave it anything to look at, such as ``lifecycle`` against a
server that always answers at once. Each failure carries the expectation, the
response seen and a curl reproducer; each check keeps the time measured on its
behalf (the HTTP exchanges it judged, and the waits for fetch and webhook).
:meth:`Report.to_run` hands the report to the shared renderer
(:mod:`spec.reports`): JUnit (one test case per check, with its time), JSON,
GitHub annotations, SARIF and Markdown, failures located at their operation in
the spec.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from t2i_contract.spec import SpecError
from t2i_contract.spec.reports import Case, Entry, RuleMeta, Run, render

from . import checks as _builtin  # noqa: F401 - registers the built-in checks
from .registry import REGISTRY, load_plugins

if TYPE_CHECKING:
    from .client import Exchange

__all__ = ["CHECKS", "CheckResult", "Failure", "Report"]



class _Promises(Mapping[str, str]):
    """Check id -> the promise it tests, read live from the registry (a plugin's checks included)."""

    def __getitem__(self, name: str) -> str:
        info = REGISTRY[name]
        if info.pack:
            raise KeyError(name)
        return info.promise

    def __iter__(self) -> Iterator[str]:
        return iter([name for name, info in REGISTRY.items() if not info.pack])

    def __len__(self) -> int:
        return sum(not info.pack for info in REGISTRY.values())


CHECKS: Mapping[str, str] = _Promises()
MAX_SHOWN_FAILURES = 3


def _distinct(failures: list[Failure]) -> list[tuple[Failure, int]]:
    """Each distinct failure (the first of its kind) and how many times it happened, in the order first seen."""
    counted: dict[tuple[str, str, str, str | None], list[Any]] = {}
    for failure in failures:
        counted.setdefault(failure.key, [failure, 0])[1] += 1
    return [(failure, times) for failure, times in counted.values()]


@dataclass
class Failure:
    check: str
    expected: str
    seen: str
    response: str = ""
    reproducer: str = ""
    context: str = ""
    operation: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str | None]:
        """What makes two failures the same failure: the check, what was expected and seen, the operation (the
        request, its response and reproducer are examples of it)."""
        return self.check, self.expected, self.seen, self.operation

    def render(self, index: int, times: int = 1) -> str:
        lines = [f"  [{index}] expected: {self.expected}",
                 f"      seen:     {self.seen}" + (f" (×{times}; the first shown)" if times > 1 else "")]
        if self.response:
            lines.append(f"      response: {self.response}")
        if self.context:
            lines.append(f"      context:  {self.context}")
        if self.reproducer:
            lines.append(f"      reproduce: {self.reproducer}")
        return "\n".join(lines)


@dataclass
class CheckResult:
    name: str
    exercised: int = 0
    failures: list[Failure] = field(default_factory=list)
    skip_reason: str = ""
    seconds: float = 0.0

    @property
    def outcome(self) -> str:
        """FAIL on any failure; PASS only when something was judged; else SKIP (never a vacuous PASS)."""
        if self.failures:
            return "FAIL"
        return "PASS" if self.exercised else "SKIP"

    @property
    def counted(self) -> str:
        """What the check judged, in its own words: ``9 images compared``."""
        info = REGISTRY.get(self.name)
        return info.counted(self.exercised) if info else f"{self.exercised} judged"

    @property
    def summary(self) -> str:
        """The line a report shows after the outcome: failures and count, the count, or the skip reason."""
        if self.failures:
            return f"{len(self.failures)} failure(s) in {self.counted}"
        return self.counted if self.exercised else self.skip_reason


def _pointer(operation_pointer: Callable[[str], str] | None, operation: str | None) -> str:
    if operation_pointer is None or operation is None:
        return ""
    try:
        return operation_pointer(operation)
    except SpecError:  # an operation the spec at hand does not have
        return ""


class Report:
    """Collects what each check saw during a run."""

    def __init__(self, base_url: str, *, profile: str, seed: int, max_examples: int, packs: bool = False) -> None:
        """A report of the v6 checks (a plugin's included), or with ``packs`` of a contract pack's checks."""
        self.base_url, self.profile, self.seed, self.max_examples = base_url, profile, seed, max_examples
        load_plugins()  # a plugin's checks (the t2i.checks entry points) are reported like the built-in ones
        self.results = {name: CheckResult(name) for name, info in REGISTRY.items() if info.pack == packs}
        self.started = time.monotonic()
        self.duration = 0.0
        self.notes: list[str] = []
        self.model = ""  # the model the run sent and how it was chosen (contract_tests.models), for the header

    def exercised(self, check: str, times: int = 1) -> None:
        self.results[check].exercised += times

    def timed(self, check: str, seconds: float) -> None:
        """Add time measured on ``check``'s behalf."""
        self.results[check].seconds += seconds

    def fail(self, check: str, expected: str, seen: str, exchange: Exchange | None = None,
             context: str = "", counted: bool = True) -> Failure:
        """Add a failure; ``counted`` False when the caller counts what was judged itself."""
        failure = Failure(check, expected, seen,
                          exchange.response_summary() if exchange is not None else "",
                          exchange.curl() if exchange is not None else "", context,
                          exchange.operation if exchange is not None else None)
        self.results[check].failures.append(failure)
        self.results[check].exercised += counted
        return failure

    def skip(self, check: str, reason: str) -> None:
        self.results[check].skip_reason = reason

    def finish(self) -> Report:
        self.duration = time.monotonic() - self.started
        for result in self.results.values():
            if result.outcome == "SKIP" and not result.skip_reason:
                info = REGISTRY.get(result.name)
                result.skip_reason = info.nothing if info else "nothing came to judge"
        return self

    @property
    def failed(self) -> list[str]:
        return [name for name, result in self.results.items() if result.failures]

    @property
    def ok(self) -> bool:
        return not self.failed

    # -- output -----------------------------------------------------------------------
    def render_text(self) -> str:
        lines = [f"t2i contract tests against {self.base_url} "
                 f"(profile {self.profile}, seed {self.seed}, {self.max_examples} examples)"]
        if self.model:
            lines.append(f"model: {self.model}")
        width = max([16, *map(len, self.results)])
        for name, result in self.results.items():
            lines.append(f"  {result.outcome:4} {name:{width}} {result.summary}")
        for name in self.failed:
            distinct = _distinct(self.results[name].failures)
            lines += ["", f"== {name}: {CHECKS[name]} =="]
            lines += [f.render(i, times) for i, (f, times) in enumerate(distinct[:MAX_SHOWN_FAILURES], 1)]
            rest = distinct[MAX_SHOWN_FAILURES:]
            if rest:
                more = sum(times for _, times in rest)
                lines.append(f"  ... and {more} more" + (f" ({len(rest)} distinct)" if more != len(rest) else ""))
        lines += [""] + [f"note: {note}" for note in self.notes]
        counts = [sum(r.outcome == o for r in self.results.values()) for o in ("PASS", "FAIL", "SKIP")]
        lines.append(f"{counts[0]} passed, {counts[1]} failed, {counts[2]} skipped in {self.duration:.1f}s"
                     + ("" if self.ok else f"; rerun with --seed {self.seed}"))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON: the run's settings, then each check's outcome, count, time and failures."""
        return {"base_url": self.base_url, "profile": self.profile, "seed": self.seed,
                "max_examples": self.max_examples, "model": self.model, "seconds": round(self.duration, 3),
                "ok": self.ok,
                "checks": {name: {"outcome": r.outcome, "exercised": r.exercised, "judged": r.counted,
                                  "summary": r.summary, "seconds": round(r.seconds, 3),
                                  "skip_reason": r.skip_reason if r.outcome == "SKIP" else "",
                                  "failures": [asdict(f) for f in r.failures]}
                           for name, r in self.results.items()},
                "notes": list(self.notes)}

    def to_run(self, spec_path: Path | None = None,
               operation_pointer: Callable[[str], str] | None = None) -> Run:
        """The report for :func:`spec.reports.render`; failures point at their operation in ``spec_path``."""
        entries = []
        for name in self.failed:
            for failure in self.results[name].failures:
                pointer = _pointer(operation_pointer, failure.operation)
                detail = "\n".join(filter(None, [failure.response and f"response: {failure.response}",
                                                 failure.context and f"context: {failure.context}",
                                                 failure.reproducer and f"reproduce: {failure.reproducer}"]))
                entries.append(Entry(name, "error", f"{failure.seen} (expected: {failure.expected})", pointer,
                                     detail))
        cases = []
        for name, result in self.results.items():
            text = "\n\n".join(f.render(i, times) for i, (f, times) in enumerate(_distinct(result.failures), 1))
            message = f"{len(result.failures)} failure(s) in {result.counted}: {result.failures[0].expected}" \
                if result.failures else result.summary
            cases.append(Case(name, {"PASS": "pass", "FAIL": "fail", "SKIP": "skip"}[result.outcome],
                              result.seconds, message, text))
        return Run(tool="t2i test", rules=[RuleMeta(name, "error", summary) for name, summary in CHECKS.items()],
                   entries=entries, text=self.render_text(), json=self.to_dict(),
                   spec_files=[spec_path] if spec_path else [], cases=cases, seconds=self.duration)

    def write_junit(self, path: Path) -> None:
        path.write_text(render(self.to_run(), "junit") + "\n", encoding="utf-8")
