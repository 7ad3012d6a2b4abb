"""Rule tables: each rule's id, level and summary, stated once, where the rule is registered.

``t2i diff`` (:data:`drift.diff.DIFF_RULES`) and ``t2i drift``
(:data:`drift.observe.DRIFT_RULES`) name rules in their code and never a level:
:meth:`RuleTable.finding` looks the level up, so a rule cannot be reported at a
level its registration does not state. (``t2i lint``'s rules register with their
check function, in :mod:`drift.lint.registry`.)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping

from .findings import Finding, Level

__all__ = ["RuleInfo", "RuleTable"]


@dataclass(frozen=True)
class RuleInfo:
    id: str
    level: Level
    summary: str


class RuleTable(Mapping[str, RuleInfo]):
    """An ordered, read-only table of rules, keyed by id."""

    def __init__(self, kind: str, rows: Iterable[tuple[str, Level, str]]) -> None:
        self.kind = kind
        self._rules: dict[str, RuleInfo] = {}
        for rule_id, level, summary in rows:
            if rule_id in self._rules:
                raise ValueError(f"{kind} rule {rule_id!r} is registered twice")
            self._rules[rule_id] = RuleInfo(rule_id, level, summary)

    def __getitem__(self, rule_id: str) -> RuleInfo:
        return self._rules[rule_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rules)

    def __len__(self) -> int:
        return len(self._rules)

    def finding(self, rule_id: str, path: str, message: str) -> Finding:
        """A finding of a registered rule, at the level its registration states."""
        rule = self._rules.get(rule_id)
        if rule is None:
            raise LookupError(f"{self.kind} rule {rule_id!r} is not registered")
        return Finding(rule.id, rule.level, path, message)
