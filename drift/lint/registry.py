"""The lint rule registry: each rule is a small function with a stable id and a level.

A rule takes a :class:`~drift.document.Document` and yields ``(path, message)``
pairs; the registry turns them into :class:`~drift.findings.Finding` objects with
the rule's id and level. Rules register themselves with :func:`rule` when their
module is imported (``drift.lint`` imports them all).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from t2i_contract.spec import Document, DocumentError

from ..findings import Finding, Level

__all__ = ["INCOMPLETE", "RULES", "Rule", "rule", "run_rules"]

INCOMPLETE = "rule could not finish"

Check = Callable[[Document], Iterable[tuple[str, str]]]


@dataclass(frozen=True)
class Rule:
    id: str
    level: Level
    check: Check
    summary: str

    def run(self, document: Document) -> Iterator[Finding]:
        for path, message in self.check(document):
            yield Finding(self.id, self.level, path, message)


RULES: dict[str, Rule] = {}


def rule(rule_id: str, level: Level) -> Callable[[Check], Check]:
    """Register ``check`` under ``rule_id``; its docstring's first line is the rule's summary."""

    def register(check: Check) -> Check:
        if rule_id in RULES:
            raise ValueError(f"lint rule {rule_id!r} is registered twice")
        summary = (check.__doc__ or rule_id).strip().splitlines()[0].replace("``", "`")
        RULES[rule_id] = Rule(rule_id, level, check, summary)
        return check

    return register


def run_rules(document: Document, only: Iterable[str] | None = None) -> list[Finding]:
    """Run every registered rule (or those in ``only``) over ``document``.

    A rule that trips over a broken document (a dangling ``$ref``, a keyword of
    the wrong shape) does not stop the others: it reports, as ``warn``, that it
    could not finish, and the problem itself is usually reported by another rule
    (``ref-unresolved``, ``schema-malformed``). Lint must never end in a traceback.
    """
    chosen = [RULES[r] for r in only] if only is not None else list(RULES.values())
    findings: list[Finding] = []
    for item in chosen:
        try:
            findings.extend(item.run(document))
        except DocumentError as exc:
            findings.append(Finding(item.id, "warn", "", f"{INCOMPLETE}: {exc}"))
        except (TypeError, AttributeError, KeyError, IndexError, ValueError) as exc:
            findings.append(Finding(item.id, "warn", "", f"{INCOMPLETE}: malformed document "
                                                          f"({type(exc).__name__}: {exc})"))
    return findings
