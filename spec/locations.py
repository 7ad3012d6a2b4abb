"""Where a JSON pointer is in a spec file, named as CI reports name it.

:class:`SpecLines` maps a pointer to the line of its key in a YAML, JSON or Markdown
file (yaml's node marks; in Markdown, the fenced block ``read_document`` reads). A
file's path is shown relative to a root, the repository as GitHub and SARIF's
``%SRCROOT%`` read paths (:func:`repository_root`: the git work tree holding the
working directory, unless ``--path-prefix`` names another), and not at all when the
file lies outside it: an absolute path means nothing on another machine.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .document import _FENCE

__all__ = ["Place", "SpecLines", "repository_root"]


@dataclass(frozen=True)
class Place:
    """Where a pointer is: its file relative to the run's root (None when outside it), the file's name, the line."""

    file: str | None
    name: str
    line: int

    def __str__(self) -> str:
        return f"{self.file or self.name}:{self.line}"


def repository_root(start: Path | None = None) -> Path:
    """The git work tree holding ``start`` (default: the working directory), else ``start`` itself."""
    here = (start or Path.cwd()).resolve()
    return next((folder for folder in (here, *here.parents) if (folder / ".git").exists()), here)


class SpecLines:
    """Line numbers (1-based) of JSON pointers in one YAML, JSON or Markdown file.

    ``shown`` is its path relative to ``root`` (default: :func:`repository_root`), None when outside it."""

    def __init__(self, path: Path, root: Path | None = None) -> None:
        self.path = Path(path)
        self.shown = _shown_path(self.path, root if root is not None else repository_root())
        self.root: yaml.Node | None = None
        self.offset = 0
        try:
            text = self.path.read_text(encoding="utf-8")
            if self.path.suffix.lower() in (".md", ".markdown"):
                match = next((m for m in _FENCE.finditer(text) if re.search(r"^openapi\s*:", m.group(2), re.M)),
                             None)  # the block read_document reads
                if match is None:
                    return
                self.offset = text.count("\n", 0, match.start(2))
                text = match.group(2)
            self.root = yaml.compose(text, Loader=yaml.SafeLoader)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            self.root = None

    def find(self, pointer: str) -> tuple[int, int]:
        """(segments matched, line) for the deepest node on ``pointer``'s path; line 0 when none."""
        node = self.root
        if node is None:
            return 0, 0
        line, depth = node.start_mark.line + 1, 0
        for raw in [p for p in pointer.split("/")[1:]]:
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, yaml.MappingNode):
                pair = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part),
                            None)
                if pair is None:
                    break
                line, node = pair[0].start_mark.line + 1, pair[1]
            elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
                node = node.value[int(part)]
                line = node.start_mark.line + 1
            else:
                break
            depth += 1
        return depth, line + self.offset


def _shown_path(path: Path, root: Path) -> str | None:
    """The path as CI tools want it, relative to ``root`` (a repository's root, as GitHub's annotations and
    SARIF's %SRCROOT% read it); None when outside, never an absolute path that means nothing elsewhere."""
    resolved, base = path.resolve(), root.resolve()
    return Path(os.path.relpath(resolved, base)).as_posix() if resolved.is_relative_to(base) else None
