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
from typing import TYPE_CHECKING, Any, Callable

from t2i_contract.spec import SpecError
from t2i_contract.spec.reports import Case, Entry, RuleMeta, Run, render

if TYPE_CHECKING:
    from .client import Exchange

__all__ = ["CHECKS", "CheckResult", "Failure", "Report"]

CHECKS: dict[str, str] = {
    "conformance": "every response matches exactly one branch of the spec for its status code",
    "no_server_error": "no 5xx (other than a documented 503) for any input, valid or invalid",
    "invalid_rejected": "an invalid body gets the error branch, never success or processing",
    "valid_accepted": "a valid body gets success or processing (or a documented 429/503), never an error",
    "sample_count": "a success has exactly `samples` outputs, after fetching when it was processing",
    "image_size": "every output decodes as an image of the spec's output size for width x height and upscale",
    "determinism": "the same body and seed give identical images; another seed gives different ones",
    "lifecycle": "a processing answer reaches success through fetch within eta plus a margin",
    "webhook": "a request's webhook receives the completion payload with its id and track_id",
    "meta_echo": "meta echoes the request's normalised parameters and the seed used",
    "defaults": "a body with only key, model_id and prompt gives one 512x512 image and default meta",
    "auth": "a wrong key gets a 401 in the error shape",
    "implemented": "every operation of the spec is served: a valid body never gets a 404 naming the operation "
                   "(--skip implemented tests only the operations the server has)",
    "img2img_size": "img2img and inpaint outputs decode as images of the init image's size, not width x height",
    "inpaint_preserves": "inpaint keeps every pixel the mask leaves black exactly (this toolkit's reading, not the "
                         "vendor's promise: --skip it for a server that blends)",
    "input_refused": "an unreachable, missing or non-image init_image or mask_image gets a 4xx naming the field, "
                     "never a 5xx or a success",
    "model_reload": "model_reload answers success, or processing and then success when called again, with a message",
}
MAX_SHOWN_FAILURES = 3


@dataclass
class Failure:
    check: str
    expected: str
    seen: str
    response: str = ""
    reproducer: str = ""
    context: str = ""
    operation: str | None = None

    def render(self, index: int) -> str:
        lines = [f"  [{index}] expected: {self.expected}", f"      seen:     {self.seen}"]
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
        if self.failures:
            return "FAIL"
        return "PASS" if self.exercised else "SKIP"


def _pointer(operation_pointer: Callable[[str], str] | None, operation: str | None) -> str:
    if operation_pointer is None or operation is None:
        return ""
    try:
        return operation_pointer(operation)
    except SpecError:  # an operation the spec at hand does not have
        return ""


class Report:
    """Collects what each check saw during a run."""

    def __init__(self, base_url: str, *, profile: str, seed: int, max_examples: int) -> None:
        self.base_url, self.profile, self.seed, self.max_examples = base_url, profile, seed, max_examples
        self.results = {name: CheckResult(name) for name in CHECKS}
        self.started = time.monotonic()
        self.duration = 0.0
        self.notes: list[str] = []

    def exercised(self, check: str, times: int = 1) -> None:
        self.results[check].exercised += times

    def timed(self, check: str, seconds: float) -> None:
        """Add time measured on ``check``'s behalf."""
        self.results[check].seconds += seconds

    def fail(self, check: str, expected: str, seen: str, exchange: Exchange | None = None,
             context: str = "") -> Failure:
        failure = Failure(check, expected, seen,
                          exchange.response_summary() if exchange is not None else "",
                          exchange.curl() if exchange is not None else "", context,
                          exchange.operation if exchange is not None else None)
        self.results[check].failures.append(failure)
        self.results[check].exercised += 1
        return failure

    def skip(self, check: str, reason: str) -> None:
        self.results[check].skip_reason = reason

    def finish(self) -> Report:
        self.duration = time.monotonic() - self.started
        for result in self.results.values():
            if result.outcome == "SKIP" and not result.skip_reason:
                result.skip_reason = "never exercised"
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
        for name, result in self.results.items():
            detail = (f"{len(result.failures)} failure(s) in {result.exercised} checked"
                      if result.failures else f"{result.exercised} checked" if result.exercised
                      else result.skip_reason)
            lines.append(f"  {result.outcome:4} {name:16} {detail}")
        for name in self.failed:
            failures = self.results[name].failures
            lines += ["", f"== {name}: {CHECKS[name]} =="]
            lines += [f.render(i) for i, f in enumerate(failures[:MAX_SHOWN_FAILURES], 1)]
            if len(failures) > MAX_SHOWN_FAILURES:
                lines.append(f"  ... and {len(failures) - MAX_SHOWN_FAILURES} more")
        lines += [""] + [f"note: {note}" for note in self.notes]
        counts = [sum(r.outcome == o for r in self.results.values()) for o in ("PASS", "FAIL", "SKIP")]
        lines.append(f"{counts[0]} passed, {counts[1]} failed, {counts[2]} skipped in {self.duration:.1f}s"
                     + ("" if self.ok else f"; rerun with --seed {self.seed}"))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON: the run's settings, then each check's outcome, count, time and failures."""
        return {"base_url": self.base_url, "profile": self.profile, "seed": self.seed,
                "max_examples": self.max_examples, "seconds": round(self.duration, 3), "ok": self.ok,
                "checks": {name: {"outcome": r.outcome, "exercised": r.exercised, "seconds": round(r.seconds, 3),
                                  "skip_reason": r.skip_reason, "failures": [asdict(f) for f in r.failures]}
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
            text = "\n\n".join(f.render(i) for i, f in enumerate(result.failures, 1))
            message = f"{len(result.failures)} failure(s): {result.failures[0].expected}" if result.failures \
                else result.skip_reason
            cases.append(Case(name, {"PASS": "pass", "FAIL": "fail", "SKIP": "skip"}[result.outcome],
                              result.seconds, message, text))
        return Run(tool="t2i test", rules=[RuleMeta(name, "error", summary) for name, summary in CHECKS.items()],
                   entries=entries, text=self.render_text(), json=self.to_dict(),
                   spec_files=[spec_path] if spec_path else [], cases=cases, seconds=self.duration)

    def write_junit(self, path: Path) -> None:
        path.write_text(render(self.to_run(), "junit") + "\n", encoding="utf-8")
