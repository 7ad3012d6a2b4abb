"""Findings: the one result type of lint, diff and live drift, and its text/JSON output.

A :class:`Finding` names a stable ``rule`` id, a ``level`` (``error``, ``warn`` or
``info``), a ``path`` (a JSON pointer into the spec the finding is about) and a
human ``message``. JSON output is ``{"findings": [...]}``; text output is one line
per finding, its level in the words every command and CI format shows
(:data:`spec.reports.LEVEL_WORDS`: error, warning, note). ``exit_code`` turns a
list of findings and a ``--fail-on`` level into the process's exit status. :func:`to_run` hands findings to the shared renderer
(:mod:`spec.reports`) for the CI formats (github, sarif, junit, markdown).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Literal, Protocol, Sequence

from t2i_contract.spec import escape_pointer
from t2i_contract.spec.reports import Entry, RuleMeta, Run, level_word

__all__ = [
    "LEVELS",
    "Finding",
    "Level",
    "escape_pointer",
    "exit_code",
    "normalise_level",
    "render",
    "show_json",
    "sort_findings",
    "to_run",
]

Level = Literal["error", "warn", "info"]
LEVELS: tuple[Level, ...] = ("error", "warn", "info")
_RANK = {"error": 0, "warn": 1, "info": 2}
# The words shown (error, warning, note), the data's (warn, info) and oasdiff's (ERR) are all read.
_ALIASES = {"err": "error", "error": "error", "warn": "warn", "warning": "warn", "info": "info", "note": "info"}


def show_json(value: object) -> str:
    """A value as JSON for a message (``null``, ``true``, ``"x"``), never a Python repr."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def normalise_level(value: str) -> Level:
    """``error``/``warning``/``note`` (or ``ERR``, ``warn``, ``info``; any case) to a :data:`Level`."""
    try:
        return _ALIASES[value.strip().lower()]  # type: ignore[return-value]
    except KeyError:
        raise ValueError(f"level must be one of error, warning, note (or warn, info), got {value!r}") from None


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    level: Level
    path: str
    message: str

    def __post_init__(self) -> None:
        if self.level not in _RANK:
            raise ValueError(f"level must be one of {LEVELS}, got {self.level!r}")

    def at_least(self, level: Level) -> bool:
        """Whether this finding is as severe as ``level`` or more."""
        return _RANK[self.level] <= _RANK[level]

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (_RANK[f.level], f.path, f.rule, f.message))


def render(findings: Iterable[Finding], fmt: str = "text") -> str:
    """Findings as ``json`` (``{"findings": [...]}``) or ``text`` (one line each, most severe first)."""
    ordered = sort_findings(findings)
    if fmt == "json":
        return json.dumps({"findings": [f.to_dict() for f in ordered]}, indent=2, ensure_ascii=False)
    if fmt != "text":
        raise ValueError(f"format must be text or json, got {fmt!r}")
    if not ordered:
        return "no findings"
    width = max(len(level_word(f.level)) for f in ordered)
    lines = [
        f"{level_word(f.level):<{width}}  {f.rule}  {f.path or '/'}\n{' ' * (width + 2)}{f.message}"
        for f in ordered
    ]
    counts = {level: sum(1 for f in ordered if f.level == level) for level in LEVELS}
    summary = ", ".join(f"{n} {level_word(level)}" for level, n in counts.items() if n)
    return "\n".join(lines) + f"\n{len(ordered)} findings: {summary}"


def exit_code(findings: Iterable[Finding], fail_on: Level = "error") -> int:
    """1 if any finding is at ``fail_on`` or more severe, else 0."""
    return 1 if any(f.at_least(fail_on) for f in findings) else 0


class _Rule(Protocol):
    id: str
    level: str
    summary: str


def to_run(findings: Iterable[Finding], *, tool: str, rules: Iterable[_Rule], spec_files: Sequence[Path]) -> Run:
    """Findings as a :class:`~spec.reports.Run` of ``tool``, located in ``spec_files`` (first match wins)."""
    ordered = sort_findings(findings)
    return Run(tool=tool, rules=[RuleMeta(r.id, r.level, r.summary) for r in rules],
               entries=[Entry(f.rule, f.level, f.message, f.path) for f in ordered],
               text=render(ordered, "text"), json=json.loads(render(ordered, "json")),
               spec_files=list(spec_files))
