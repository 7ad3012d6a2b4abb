"""CI-native reports, one renderer for ``t2i lint``, ``diff``, ``drift`` and ``test``.

A command describes its run once, as a :class:`Run`: the rules it can report
(id, level, summary, from its rule registry), the :class:`Entry` items it found
(each with a JSON pointer into a spec file where it has one), optionally its
own :class:`Case` list for JUnit (the contract suite's checks, with measured
times), and its own ``text`` and ``json`` renderings. :func:`render` turns a run
into any of :data:`FORMATS`:

* ``text`` and ``json``: the command's own;
* ``github``: workflow annotation lines, ``::error file=F,line=N,title=RULE::MESSAGE``, then a
  one-line summary (also when nothing was found);
* ``sarif``: SARIF 2.1.0 with rule metadata (``tool.driver.rules``) and locations;
* ``junit``: one test case per rule (or per case the command gave);
* ``markdown``: a table for a pull-request comment.

GitHub, SARIF and Markdown show each distinct finding once (:func:`group_entries`: the
same rule and level, the same message, at the same place), with how many times it was
found, so a server that fails one way 25 times gives one annotation saying ``(×25)``.

Spec locations come from :mod:`spec.locations` (:class:`SpecLines` maps a JSON pointer
to the line of its key in a YAML, JSON or Markdown file). File paths are
written relative to the run's ``root`` (``--path-prefix``; by default the git work tree
holding the working directory, else the working directory), never absolute: a file
outside it is named in the message instead of located. A finding's level is ``error``,
``warn`` or ``info`` in the data; people and CI read the words of :data:`LEVEL_WORDS`
(SARIF's ``error``, ``warning``, ``note``) in every command's output.
This module imports nothing of the toolkit's outside ``spec``.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import click

from .locations import Place, SpecLines, repository_root
from .options import setting, unwritable

__all__ = ["FORMATS", "LEVEL_WORDS", "Case", "Entry", "Group", "OutputTarget", "Place", "RuleMeta", "Run",
           "SpecLines", "format_setting", "group_entries", "level_word", "output_setting", "path_prefix_setting",
           "render", "repository_root", "summary_line", "write_outputs"]

FORMATS = ("text", "json", "github", "sarif", "junit", "markdown")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"  # the uriBaseId of every artifact URI: the run's root, wherever CI checked it out
LEVEL_WORDS = {"error": "error", "warn": "warning", "info": "note"}
"""The word each level is shown as, in every command's text and every CI format: SARIF's (GitHub says notice
for note, its command's name)."""
_GITHUB = {"error": "error", "warn": "warning", "info": "notice"}


def level_word(level: str) -> str:
    """``warn`` -> ``warning``: the word :data:`LEVEL_WORDS` shows for a level."""
    return LEVEL_WORDS.get(level, level)


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


@dataclass(frozen=True)
class Group:
    """One distinct finding (``entry``, the first of them) and how many times it was found."""

    entry: Entry
    count: int

    def counted(self, text: str) -> str:
        """``text (×25)``; ``text`` alone for a finding found once."""
        return f"{text} (×{self.count})" if self.count > 1 else text


def group_entries(entries: Sequence[Entry]) -> list[Group]:
    """Entries with the same rule, level, message and pointer as one :class:`Group`, in the order first found.

    The detail (a reproducer, say) is the first one's: it is an example, not part of what was found."""
    counts: Counter[tuple[str, str, str, str]] = Counter()
    first: dict[tuple[str, str, str, str], Entry] = {}
    for entry in entries:
        key = (entry.rule, entry.level, entry.message, entry.pointer)
        counts[key] += 1
        first.setdefault(key, entry)
    return [Group(entry, counts[key]) for key, entry in first.items()]


@dataclass
class Run:
    """One command's run; ``root`` is the folder file paths are written relative to (None: :func:`repository_root`)."""

    tool: str
    rules: Sequence[RuleMeta]
    entries: Sequence[Entry]
    text: str
    json: Any
    spec_files: Sequence[Path] = ()
    cases: Sequence[Case] | None = None
    seconds: float = 0.0
    root: Path | None = None
    _lines: list[SpecLines] = field(default_factory=list, init=False, repr=False)

    def _spec_lines(self) -> list[SpecLines]:
        if not self._lines:
            root = self.root if self.root is not None else repository_root()
            self._lines = [SpecLines(path, root) for path in self.spec_files]
        return self._lines

    def locate(self, pointer: str) -> Place | None:
        """Where ``pointer`` is: the first spec file that holds all of it, else the deepest part held."""
        best: tuple[int, Place] | None = None
        for lines in self._spec_lines():
            depth, line = lines.find(pointer)
            if line and (best is None or depth > best[0]):
                best = (depth, Place(lines.shown, lines.path.name, line))
        return best[1] if best else None

    @property
    def shown_files(self) -> list[str]:
        """The spec files as the formats name them: relative to the root, or by name when outside it."""
        return [lines.shown or lines.path.name for lines in self._spec_lines()]


# -- the formats --------------------------------------------------------------------
def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _where(place: Place | None, pointer: str) -> str:
    """The place a message names: the pointer, and the file and line when no property can carry them."""
    outside = str(place) if place is not None and place.file is None else ""
    return " ".join(filter(None, [pointer, outside and f"in {outside}"]))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def summary_line(run: Run) -> str:
    """One line saying how the run went, said whether anything was found or not: ``t2i test: 7 passed, 1 failed,
    12 skipped in 4.0s; 43 failures, 4 distinct`` or ``t2i lint: no findings in spec/text2img.yaml``."""
    found, distinct = len(run.entries), len(group_entries(run.entries))
    if run.cases is not None:
        outcomes = Counter(case.outcome for case in run.cases)
        head = (f"{run.tool}: {outcomes['pass']} passed, {outcomes['fail']} failed, {outcomes['skip']} skipped "
                f"in {run.seconds:.1f}s")
        return head + (f"; {_plural(found, 'failure')}, {distinct} distinct" if found else "")
    levels = Counter(entry.level for entry in run.entries)
    said = ", ".join(f"{levels[level]} {word}" for level, word in LEVEL_WORDS.items() if levels[level])
    files = f" in {', '.join(run.shown_files)}" if run.spec_files else ""
    if not found:
        return f"{run.tool}: no findings{files}"
    return f"{run.tool}: {_plural(found, 'finding')} ({said}){files}, {distinct} distinct"


def _github(run: Run) -> str:
    lines = []
    for group in group_entries(run.entries):
        entry, props = group.entry, []
        place = run.locate(entry.pointer) if entry.pointer else None
        if place is not None and place.file is not None:
            props += [f"file={_escape_property(place.file)}", f"line={place.line}"]
        props.append(f"title={_escape_property(f'{run.tool}: {entry.rule}')}")
        where = _where(place, entry.pointer)
        message = group.counted(entry.message) + (f" ({where})" if where else "")
        lines.append(f"::{_GITHUB.get(entry.level, 'error')} {','.join(props)}::{_escape_data(message)}")
    for case in run.cases or ():  # a check that judged nothing is said, never passed over in silence
        if case.outcome == "skip":
            title = _escape_property(f"{run.tool}: {case.name}")
            lines.append(f"::notice title={title}::{_escape_data(f'SKIP: {case.message}')}")
    lines.append(summary_line(run))
    return "\n".join(lines)


def _sarif(run: Run) -> str:
    index = {rule.id: i for i, rule in enumerate(run.rules)}
    rules = [{"id": rule.id, "name": rule.id, "shortDescription": {"text": rule.summary},
              "defaultConfiguration": {"level": LEVEL_WORDS.get(rule.level, "warning")}} for rule in run.rules]
    results = []
    for group in group_entries(run.entries):
        entry = group.entry
        place = run.locate(entry.pointer) if entry.pointer else None
        outside = _where(place, "")
        detail = (f"\nThe first of {group.count}:\n" if group.count > 1 else "\n") + entry.detail \
            if entry.detail else ""
        text = group.counted(entry.message) + (f" ({outside})" if outside else "") + detail
        result: dict[str, Any] = {"ruleId": entry.rule, "level": LEVEL_WORDS.get(entry.level, "warning"),
                                  "message": {"text": text}, "properties": {"count": group.count}}
        if entry.rule in index:
            result["ruleIndex"] = index[entry.rule]
        location: dict[str, Any] = {}
        if place is not None and place.file is not None:
            location["physicalLocation"] = {"artifactLocation": {"uri": place.file, "uriBaseId": SRCROOT},
                                            "region": {"startLine": place.line}}
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
        text = "\n".join(f"{level_word(e.level)} {e.pointer or '/'}: {e.message}" for e in found)
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
        return "\n".join(lines + ["No findings.", "", summary_line(run)])
    groups = group_entries(run.entries)
    lines += ["| level | rule | where | message | times |", "| --- | --- | --- | --- | --- |"]
    for group in groups:
        entry = group.entry
        place = run.locate(entry.pointer) if entry.pointer else None
        shown = f"`{place}`" if place else ""
        lines.append(f"| {level_word(entry.level)} | `{entry.rule}` | {shown} "
                     f"{_cell(entry.pointer and f'`{entry.pointer}`')} | {_cell(entry.message)} | {group.count} |")
    for group in groups:
        if group.entry.detail:
            first = f" (the first of {group.count})" if group.count > 1 else ""
            lines += ["", f"<details><summary>{_cell(group.entry.rule)}: {_cell(group.entry.message)}{first}"
                          "</summary>", "", "```", group.entry.detail, "```", "</details>"]
    return "\n".join(lines + ["", summary_line(run)])


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


def write_outputs(run: Run, fmt: str, outputs: Sequence[tuple[str, Path]], path_prefix: Path | None = None) -> None:
    """Print ``run`` as ``fmt`` and write each ``(format, file)`` of ``--output``, file paths relative to
    ``path_prefix`` (``--path-prefix``) when given."""
    if path_prefix is not None:
        run = replace(run, root=path_prefix)
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
        problem = unwritable(Path(path))
        if problem:
            self.fail(problem, param, ctx)
        return kind, Path(path)


def format_setting() -> Any:
    """The ``--format`` field every reporting command shares."""
    return setting("text", type=click.Choice(FORMATS),
                   help="What to print: text, json, github (workflow annotations), sarif (SARIF 2.1.0), junit "
                        "or markdown.")


def path_prefix_setting() -> Any:
    """The ``--path-prefix DIR`` field every reporting command shares."""
    return setting(None, type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
                   default_text="the git work tree holding the working directory, else the working directory",
                   help="Write file paths in github, sarif and markdown reports relative to DIR (where CI checked "
                        "the repository out); a spec file outside DIR is named in the message instead.")


def output_setting() -> Any:
    """The ``--output FORMAT=FILE`` field every reporting command shares."""
    return setting((), type=OutputTarget(), metavar="FORMAT=FILE",
                   help="Also write the report in FORMAT to FILE, e.g. sarif=report.sarif; repeat for several.")
