"""Find every shell command in a README: ```sh blocks, and the ``run:`` steps of ```yaml CI recipes.

``tests/test_readme.py`` runs what this finds. Parsing is deliberately forgiving, so
the README can change freely:

- In a ``sh`` (or ``bash``, ``shell``, ``console``) block, a command is a line, plus
  the lines a trailing backslash or an unclosed quote carries on to (``curl ... -d '{``
  over three lines is one command). Lines that are only a comment (an example of the
  output, ``# {"status": ...}``) are not commands.
- In a ``yaml`` block, each item of a ``steps:`` list with a ``run:`` is one command,
  with the step's ``env``; ``uses:`` steps are GitHub actions, not shell.
- A command marked ``# exits N`` (``# exits 1: the vendor's page contradicts itself``)
  must exit with N; any other command must exit 0.
- A command marked ``# not run: <why>`` (on any of its lines, or on its step's lines)
  is not run; the test reports it as skipped with that reason. A marker without a
  reason is an error.
"""
from __future__ import annotations

import re
import shlex
import textwrap
from dataclasses import dataclass, field

import yaml

__all__ = ["MARKER", "Command", "MarkerError", "extract"]

MARKER = re.compile(r"#\s*not run\b:?\s*(.*)$", re.MULTILINE)
EXITS = re.compile(r"#\s*exits\s+(\d+)\b")
SHELL_INFOS = frozenset({"sh", "bash", "shell", "console"})
_FENCE = re.compile(r"^(\s*)```\s*([\w+-]*)\s*$")
_STEP = re.compile(r"^(\s*)- ")


class MarkerError(ValueError):
    """A ``# not run`` marker that does not say why."""


@dataclass(frozen=True)
class Command:
    text: str                 # the shell text as the README writes it
    line: int                 # the README line it starts on (1-based)
    origin: str               # "sh" or "yaml"
    block: int                # the line of the block's opening fence: servers started with & live as long as it
    skip: str | None = None   # the reason given by a "# not run:" marker
    env: dict[str, str] = field(default_factory=dict)

    @property
    def expected_status(self) -> int:
        """0, or the N of an ``# exits N`` marker."""
        found = EXITS.search(self.text)
        return int(found.group(1)) if found else 0

    @property
    def id(self) -> str:
        words = re.sub(r"\s+", " ", self.text).strip()
        return f"L{self.line}:{words[:48]}"


def _marker(text: str, line: int) -> str | None:
    found = MARKER.search(text)
    if found is None:
        return None
    reason = found.group(1).strip()
    if not reason:
        raise MarkerError(f"README line {line}: '# not run' must say why: '# not run: needs a GPU'")
    return reason


def _complete(text: str) -> bool:
    if text.rstrip().endswith("\\"):
        return False
    try:
        shlex.split(text, comments=True)
    except ValueError:  # an open quote: the command goes on
        return False
    return True


def _shell(lines: list[str], first: int, block: int) -> list[Command]:
    commands, buffer, start = [], "", 0
    for offset, line in enumerate(lines):
        if not buffer and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if not buffer:
            start = first + offset
        buffer = f"{buffer}\n{line}" if buffer else line
        if _complete(buffer):
            commands.append(Command(buffer, start, "sh", block, _marker(buffer, start)))
            buffer = ""
    if buffer:
        commands.append(Command(buffer, start, "sh", block, _marker(buffer, start)))
    return commands


def _steps(lines: list[str], first: int, block: int) -> list[Command]:
    """Each ``- run:`` step of every ``steps:`` list in a YAML block."""
    commands = []
    index = 0
    while index < len(lines):
        if lines[index].strip() != "steps:":
            index += 1
            continue
        index += 1
        chunks: list[tuple[int, list[str]]] = []
        indent = None
        while index < len(lines):
            line = lines[index]
            step = _STEP.match(line)
            if line.strip() and indent is None and step:
                indent = len(step.group(1))
            if line.strip() and indent is not None and len(line) - len(line.lstrip()) < indent:
                break
            if step and len(step.group(1)) == indent:
                chunks.append((first + index, [line]))
            elif chunks:
                chunks[-1][1].append(line)
            index += 1
        for start, chunk in chunks:
            raw = "\n".join(chunk)
            parsed = yaml.safe_load(textwrap.dedent(raw))
            step = parsed[0] if isinstance(parsed, list) and parsed else {}
            if isinstance(step, dict) and "run" in step:
                env = {str(k): str(v) for k, v in (step.get("env") or {}).items()}
                commands.append(Command(str(step["run"]).rstrip("\n"), start, "yaml", block, _marker(raw, start),
                                        env))
    return commands


def extract(readme: str) -> list[Command]:
    """Every command of the README, in order."""
    lines = readme.splitlines()
    commands: list[Command] = []
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if fence is None:
            index += 1
            continue
        info, body_start = fence.group(2).lower(), index + 1
        index += 1
        while index < len(lines) and not lines[index].strip().startswith("```"):
            index += 1
        body = lines[body_start:index]
        if info in SHELL_INFOS:
            commands += _shell(body, body_start + 1, body_start)
        elif info in ("yaml", "yml"):
            commands += _steps(body, body_start + 1, body_start)
        index += 1
    return commands
