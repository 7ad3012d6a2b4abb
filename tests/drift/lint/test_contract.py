"""`t2i lint` and `t2i diff` on contract packs: --contract, the shipped packs lint clean, and lint says
which semantics a contract leaves unmapped."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from t2i_contract.drift.cli import diff_command, lint_command
from t2i_contract.drift.lint import lint_path
from t2i_contract.spec.packs import PACKS

ERRORS_EXIT = 1


def _run(command: Any, args: list[str]) -> Any:
    return CliRunner().invoke(command, args, auto_envvar_prefix="T2I")


def _findings(output: str) -> list[dict[str, Any]]:
    return json.loads(output)["findings"]


@pytest.mark.parametrize("name", list(PACKS))
def test_every_pack_lints_without_errors_or_warnings(name: str) -> None:
    result = _run(lint_command, ["--contract", name, "--format", "json", "--fail-on", "warn"])
    assert result.exit_code == 0, result.output
    assert all(f["level"] == "info" for f in _findings(result.output))


def test_lint_lists_what_each_openai_operation_leaves_unmapped() -> None:
    result = _run(lint_command, ["--contract", "openai-images", "--format", "json"])
    unmapped = {f["path"]: f["message"] for f in _findings(result.output) if f["rule"] == "semantics-unmapped"}
    assert set(unmapped) == {f"/paths/~1v1~1images~1{route}/post/x-t2i-operation"
                             for route in ("generations", "edits", "variations")}
    generations = unmapped["/paths/~1v1~1images~1generations/post/x-t2i-operation"]
    assert generations.endswith("leaves unmapped: negative_prompt, seed, steps, guidance, loras, scheduler, webhook")


def test_a_users_file_with_a_broken_hint_is_an_error_naming_the_field(tmp_path: Path) -> None:
    document = yaml.safe_load(PACKS["a1111"].read_text())
    hint = document["paths"]["/sdapi/v1/txt2img"]["post"]["x-t2i-operation"]
    hint["semantics"]["guidance"] = "cfg"
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(document))
    result = _run(lint_command, ["--contract", str(path), "--format", "json"])
    assert result.exit_code == ERRORS_EXIT
    (error,) = [f for f in _findings(result.output) if f["level"] == "error"]
    assert error["rule"] == "operation-hint-invalid" and "'cfg'" in error["message"]
    assert error["path"] == "/paths/~1sdapi~1v1~1txt2img/post/x-t2i-operation"


def test_an_operation_of_a_contract_without_a_hint_maps_nothing(tmp_path: Path) -> None:
    document = yaml.safe_load(PACKS["openai-images"].read_text())
    del document["paths"]["/v1/images/variations"]["post"]["x-t2i-operation"]
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(document))
    messages = [f.message for f in lint_path(path) if f.path == "/paths/~1v1~1images~1variations/post"]
    assert messages and "createImageVariation has no x-t2i-operation hint" in messages[0]


def test_a_document_without_hints_gets_no_contract_findings(tmp_path: Path) -> None:
    document = yaml.safe_load(PACKS["openai-images"].read_text())
    del document["x-t2i-wire"]
    for item in document["paths"].values():
        del item["post"]["x-t2i-operation"]
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump(document))
    assert not [f for f in lint_path(path) if f.rule in ("semantics-unmapped", "operation-hint-invalid")]


def test_an_unknown_contract_exits_2_naming_the_packs() -> None:
    result = CliRunner().invoke(lint_command, ["--contract", "nope"])
    assert result.exit_code == 2
    assert "'nope'" in result.stderr and "a1111" in result.stderr


def test_lint_takes_spec_or_contract_not_both() -> None:
    result = _run(lint_command, [str(PACKS["a1111"]), "--contract", "a1111"])
    assert result.exit_code == 2 and "not both" in result.output


def test_diff_takes_a_contract_as_the_old_document(tmp_path: Path) -> None:
    assert _run(diff_command, ["--contract", "openai-images", str(PACKS["openai-images"])]).exit_code == 0
    document = yaml.safe_load(PACKS["openai-images"].read_text())
    document["components"]["schemas"]["CreateImageRequest"]["properties"]["n"]["maximum"] = 4
    narrower = tmp_path / "narrower.yaml"
    narrower.write_text(yaml.safe_dump(document))
    result = _run(diff_command, ["--contract", "openai-images", str(narrower), "--format", "json"])
    assert result.exit_code == 1, result.output
    assert any("/n" in f["path"] and f["level"] == "error" for f in _findings(result.output))


def test_diff_with_a_contract_takes_only_new() -> None:
    result = _run(diff_command, ["--contract", "a1111", str(PACKS["a1111"]), str(PACKS["a1111"])])
    assert result.exit_code == 2 and "give only NEW" in result.output
