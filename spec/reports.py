"""CI-native reports, one renderer for ``t2i lint``, ``diff``, ``drift`` and ``test``.

A command describes its run once, as a :class:`Run`: the rules it can report
(id, level, summary, from its rule registry), the :class:`Entry` items it found
(each with a JSON pointer into a spec file where it has one), optionally its
own :class:`Case` list for JUnit (the contract suite's checks, with measured
times), and its own ``text`` and ``json`` renderings. :func:`render` turns a run
into any of :data:`FORMATS`:

* ``text`` and ``json``: the command's own;
* ``github``: workflow annotation lines, ``::error file=F,line=N,title=RULE::MESSAGE``;
* ``sarif``: SARIF 2.1.0 with rule metadata (``tool.driver.rules``) and locations;
* ``junit``: one test case per rule (or per case the command gave);
* ``markdown``: a table for a pull-request comment.

Spec locations come from :class:`SpecLines`, which maps a JSON pointer to the
line of its key in a YAML, JSON or Markdown file (yaml's node marks). Levels are
``error``, ``warn`` and ``info`` here as everywhere in the toolkit.
This module imports nothing of the toolkit's outside ``spec``.
"""
from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import click
import yaml

from .document import _FENCE
from .options import setting

__all__ = ["FORMATS", "Case", "Entry", "OutputTarget", "RuleMeta", "Run", "SpecLines", "format_setting",
           "output_setting", "render", "write_outputs"]

FORMATS = ("text", "json", "github", "sarif", "junit", "markdown")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_GITHUB = {"error": "error", "warn": "warning", "info": "notice"}
_SARIF = {"error": "error", "warn": "warning", "info": "note"}


@dataclass(frozen=True)
class RuleMeta:
    id: str
    level: str
    summary: str


@dataclass(frozen=True)
class Entry:
    """One finding or failure: ``pointer`` is a JSON pointer into the run's spec files ("" for none)."""

    rule: str
    level: str
    message: str
    pointer: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Case:
    """One check's outcome (``pass``, ``fail`` or ``skip``) and ``message``: for a pass what it judged ("9 images
    compared"), for a skip why nothing was judged, for a failure the first expectation. Every format shows it:
    JUnit as the test case, SARIF as a result of kind ``pass`` or ``notApplicable``, GitHub as a notice for a
    skip, Markdown in the checks table."""

    name: str
    outcome: str
    seconds: float = 0.0
    message: str = ""
    detail: str = ""


@dataclass
class Run:
    tool: str
    rules: Sequence[RuleMeta]
    entries: Sequence[Entry]
    text: str
    json: Any
    spec_files: Sequence[Path] = ()
    cases: Sequence[Case] | None = None
    seconds: float = 0.0
    _lines: list[SpecLines] = field(default_factory=list, init=False, repr=False)

    def locate(self, pointer: str) -> tuple[str, int] | None:
        """(file, line) of ``pointer``: the first spec file that holds all of it, else the deepest part held."""
        if not self._lines:
            self._lines = [SpecLines(path) for path in self.spec_files]
        best: tuple[int, str, int] | None = None
        for lines in self._lines:
            depth, line = lines.find(pointer)
            if line and (best is None or depth > best[0]):
                best = (depth, lines.shown, line)
        return (best[1], best[2]) if best else None


class SpecLines:
    """Line numbers (1-based) of JSON pointers in one YAML, JSON or Markdown file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.shown = _shown_path(self.path)
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


def _shown_path(path: Path) -> str:
    """The path as CI tools want it: relative to the working directory when inside it."""
    try:
        return Path(os.path.relpath(path.resolve(), Path.cwd())).as_posix() \
            if path.resolve().is_relative_to(Path.cwd()) else path.resolve().as_posix()
    except ValueError:
        return path.as_posix()


# -- the formats --------------------------------------------------------------------
def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _github(run: Run) -> str:
    lines = []
    for entry in run.entries:
        props = []
        where = run.locate(entry.pointer) if entry.pointer else None
        if where:
            props += [f"file={_escape_property(where[0])}", f"line={where[1]}"]
        props.append(f"title={_escape_property(f'{run.tool}: {entry.rule}')}")
        message = entry.message + (f" ({entry.pointer})" if entry.pointer else "")
        lines.append(f"::{_GITHUB.get(entry.level, 'error')} {','.join(props)}::{_escape_data(message)}")
    for case in run.cases or ():  # a check that judged nothing is said, never passed over in silence
        if case.outcome == "skip":
            title = _escape_property(f"{run.tool}: {case.name}")
            lines.append(f"::notice title={title}::{_escape_data(f'SKIP: {case.message}')}")
    return "\n".join(lines)


def _sarif(run: Run) -> str:
    index = {rule.id: i for i, rule in enumerate(run.rules)}
    rules = [{"id": rule.id, "name": rule.id, "shortDescription": {"text": rule.summary},
              "defaultConfiguration": {"level": _SARIF.get(rule.level, "warning")}} for rule in run.rules]
    results = []
    for entry in run.entries:
        result: dict[str, Any] = {"ruleId": entry.rule, "level": _SARIF.get(entry.level, "warning"),
                                  "message": {"text": entry.message + (f"\n{entry.detail}" if entry.detail else "")}}
        if entry.rule in index:
            result["ruleIndex"] = index[entry.rule]
        where = run.locate(entry.pointer) if entry.pointer else None
        location: dict[str, Any] = {}
        if where:
            location["physicalLocation"] = {"artifactLocation": {"uri": where[0]},
                                            "region": {"startLine": where[1]}}
        if entry.pointer:
            location["logicalLocations"] = [{"fullyQualifiedName": entry.pointer, "kind": "member"}]
        if location:
            result["locations"] = [location]
        results.append(result)
    for case in run.cases or ():  # a command's own checks: what passed and what was skipped, said too
        if case.outcome in ("pass", "skip"):
            results.append({"ruleId": case.name, "kind": "pass" if case.outcome == "pass" else "notApplicable",
                            "level": "none", "message": {"text": f"{case.outcome.upper()}: {case.message}"},
                            **({"ruleIndex": index[case.name]} if case.name in index else {})})
    document = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": run.tool, "rules": rules}},
        "results": results}]}
    return json.dumps(document, indent=2, ensure_ascii=False)


def _cases(run: Run) -> list[Case]:
    """One case per rule: failing with its error and warn findings, passing with info ones in the text."""
    if run.cases is not None:
        return list(run.cases)
    cases = []
    for rule in run.rules:
        found = [e for e in run.entries if e.rule == rule.id]
        serious = [e for e in found if e.level in ("error", "warn")]
        text = "\n".join(f"{e.level} {e.pointer or '/'}: {e.message}" for e in found)
        cases.append(Case(rule.id, "fail" if serious else "pass", 0.0,
                          f"{len(serious)} finding(s): {serious[0].message}" if serious else "", text))
    return cases


def _junit(run: Run) -> str:
    cases = _cases(run)
    suite = ET.Element("testsuite", {
        "name": run.tool, "tests": str(len(cases)), "failures": str(sum(c.outcome == "fail" for c in cases)),
        "errors": "0", "skipped": str(sum(c.outcome == "skip" for c in cases)), "time": f"{run.seconds:.3f}"})
    for case in cases:
        element = ET.SubElement(suite, "testcase", {"classname": run.tool.replace(" ", "."), "name": case.name,
                                                    "time": f"{case.seconds:.3f}"})
        if case.outcome == "fail":
            ET.SubElement(element, "failure", {"message": case.message, "type": case.name}).text = case.detail
        elif case.outcome == "skip":
            ET.SubElement(element, "skipped", {"message": case.message})
        elif case.detail or case.message:
            ET.SubElement(element, "system-out").text = case.detail or case.message
    root = ET.Element("testsuites")
    root.append(suite)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def _markdown(run: Run) -> str:
    lines = [f"### {run.tool}", ""]
    if run.cases is not None:
        lines += ["| check | outcome | time | judged, or why skipped |", "| --- | --- | --- | --- |"]
        lines += [f"| `{c.name}` | {c.outcome} | {c.seconds:.1f}s | {_cell(c.message)} |" for c in run.cases]
        lines.append("")
    if not run.entries:
        return "\n".join(lines + ["No findings."])
    lines += ["| level | rule | where | message |", "| --- | --- | --- | --- |"]
    for entry in run.entries:
        where = run.locate(entry.pointer) if entry.pointer else None
        place = f"`{where[0]}:{where[1]}`" if where else ""
        lines.append(f"| {entry.level} | `{entry.rule}` | {place} {_cell(entry.pointer and f'`{entry.pointer}`')} "
                     f"| {_cell(entry.message)} |")
    details = [e for e in run.entries if e.detail]
    for entry in details:
        lines += ["", f"<details><summary>{_cell(entry.rule)}: {_cell(entry.message)}</summary>", "",
                  "```", entry.detail, "```", "</details>"]
    return "\n".join(lines)


def render(run: Run, fmt: str) -> str:
    """``run`` in one of :data:`FORMATS`."""
    if fmt == "text":
        return run.text
    if fmt == "json":
        return json.dumps(run.json, indent=2, ensure_ascii=False)
    renderers = {"github": _github, "sarif": _sarif, "junit": _junit, "markdown": _markdown}
    if fmt not in renderers:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return renderers[fmt](run)


def write_outputs(run: Run, fmt: str, outputs: Sequence[tuple[str, Path]]) -> None:
    """Print ``run`` as ``fmt`` and write each ``(format, file)`` of ``--output``."""
    shown = render(run, fmt)
    if shown:
        click.echo(shown)
    for kind, path in outputs:
        path.write_text(render(run, kind) + "\n", encoding="utf-8")
        click.echo(f"{kind} report written to {path}", err=True)


class OutputTarget(click.ParamType):
    """``FORMAT=FILE`` (``sarif=lint.sarif``) to ``("sarif", Path("lint.sarif"))``."""

    name = "FORMAT=FILE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        kind, sep, path = str(value).partition("=")
        if not sep or kind not in FORMATS or not path:
            self.fail(f"expected FORMAT=FILE with FORMAT one of {', '.join(FORMATS)}, got {value!r}", param, ctx)
        return kind, Path(path)


def format_setting() -> Any:
    """The ``--format`` field every reporting command shares."""
    return setting("text", type=click.Choice(FORMATS),
                   help="What to print: text, json, github (workflow annotations), sarif (SARIF 2.1.0), junit "
                        "or markdown.")


def output_setting() -> Any:
    """The ``--output FORMAT=FILE`` field every reporting command shares."""
    return setting((), type=OutputTarget(), metavar="FORMAT=FILE",
                   help="Also write the report in FORMAT to FILE, e.g. sarif=report.sarif; repeat for several.")
