"""One spelling per operation name on every command (both accepted), and help texts that state the real defaults."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from t2i_contract.spec import load_spec
from t2i_contract.spec.cli import main


def test_every_operation_is_known_by_its_id_and_its_paths_last_segment() -> None:
    names = load_spec().operation_names()
    assert names["model_reload"] == names["modelReload"] == "modelReload"
    assert names["text2img"] == "text2img"


@pytest.mark.parametrize("name", ["model_reload", "modelReload"])
def test_validate_takes_both_spellings_of_an_operation(name: str, tmp_path: Path) -> None:
    body = tmp_path / "reload.json"
    body.write_text(json.dumps({"key": "k", "model_id": "tiny-sd"}))
    result = CliRunner().invoke(main, ["validate", "--operation", name, str(body)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["operation"] == "modelReload"


def test_an_unknown_operation_is_refused_naming_the_spellings(tmp_path: Path) -> None:
    body = tmp_path / "b.json"
    body.write_text("{}")
    result = CliRunner().invoke(main, ["validate", "--operation", "upscale", str(body)])
    assert result.exit_code == 2 and "model_reload" in result.output and "modelReload" in result.output


def _default_shown(command: str, flag: str) -> str:
    """The ``[... default: X]`` that ``t2i COMMAND --help`` shows for ``flag``, on one line."""
    text = " ".join(CliRunner().invoke(main, [command, "--help"], terminal_width=10_000).output.split())
    after = text.split("Options: ", 1)[1].split(f" {flag} ", 1)[1]
    return after.split("default: ", 1)[1].split("]", 1)[0]


@pytest.mark.parametrize(("command", "flag", "shown"), [
    ("worker", "--data", "none: required, unless --images"),
    ("worker", "--queue", "none: required"),
    ("worker", "--models", "none: required"),
    ("serve", "--data", "with --queue, required"),
])
def test_help_states_a_required_option_as_required(command: str, flag: str, shown: str) -> None:
    """`t2i worker --help` once said --data defaults to a temporary folder, yet the worker refuses to start
    without it (tests/test_cli_errors.py walks the refusals)."""
    assert shown in _default_shown(command, flag)
