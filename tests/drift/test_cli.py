"""``t2i lint`` and ``t2i diff`` as a user runs them: exit codes, formats, env variables."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from t2i_contract.drift.cli import diff_command, lint_command
from t2i_contract.spec import SPEC_PATH
from t2i_contract.spec.cli import main

VENDOR = str(Path(__file__).resolve().parent / "fixtures" / "vendor-multi-lora-text2img.md")


def _run(command, args: list[str], env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(command, args, env=env, auto_envvar_prefix="T2I")


def test_lint_of_our_spec_exits_zero() -> None:
    result = _run(lint_command, [])
    assert result.exit_code == 0 and "no findings" in result.output


def test_lint_of_the_vendor_page_exits_one_with_json_findings() -> None:
    result = _run(lint_command, [VENDOR, "--format", "json"])
    assert result.exit_code == 1
    rules = {f["rule"] for f in json.loads(result.output)["findings"]}
    assert {"nullable-in-3.1", "oneof-ambiguous"} <= rules


def test_lint_fail_on_comes_from_the_environment() -> None:
    info_only = Path(__file__).resolve().parent / "fixtures" / "info-only.yaml"
    # Through the t2i group, as installed: the variable is T2I_<COMMAND>_<OPTION>.
    assert _run(main, ["lint", str(info_only)]).exit_code == 0
    assert _run(main, ["lint", str(info_only)], env={"T2I_LINT_FAIL_ON": "info"}).exit_code == 1


def test_lint_of_a_non_openapi_file_exits_two_with_a_message(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("hello: world\n")
    result = _run(lint_command, [str(path)])
    assert result.exit_code == 2 and "not an OpenAPI document" in result.output


@pytest.mark.parametrize(("fail_on", "status"), [("ERR", 1), ("warn", 1)])
def test_diff_of_the_vendor_page_against_our_spec_is_breaking(fail_on: str, status: int) -> None:
    result = _run(diff_command, [VENDOR, str(SPEC_PATH), "--fail-on", fail_on])
    assert result.exit_code == status and "\nerror  " in result.output and "ERR " not in result.output


def test_diff_of_a_spec_against_itself_exits_zero() -> None:
    result = _run(diff_command, [str(SPEC_PATH), str(SPEC_PATH), "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.output) == {"findings": []}


def test_diff_rejects_an_unknown_fail_on_level() -> None:
    result = _run(diff_command, [str(SPEC_PATH), str(SPEC_PATH), "--fail-on", "fatal"])
    assert result.exit_code == 2 and "got 'fatal'" in result.output


def test_lint_lists_every_rule_with_its_level() -> None:
    from t2i_contract.drift.lint import RULES

    result = _run(lint_command, ["--list-rules"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == len(RULES)
    assert any(line.split()[:2] == ["oneof-ambiguous", "error"] for line in lines)
