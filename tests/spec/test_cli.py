"""`t2i validate` and `t2i --help`, run as the installed console script."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

T2I = shutil.which("t2i", path=str(Path(sys.executable).parent))


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    assert T2I, "the t2i console script is not installed in this environment"
    return subprocess.run([T2I, *args], input=stdin, capture_output=True, text=True, timeout=60)


def test_validate_accepts_the_upstream_example(repo_root: Path) -> None:
    result = run("validate", str(repo_root / "examples" / "upstream-example.json"))
    assert result.returncode == 0, result.stderr
    normalised = json.loads(result.stdout)
    assert normalised["width"] == 512 and isinstance(normalised["width"], int)
    assert normalised["safety_checker"] is True
    assert normalised["lora_model"] == ["teddy-jacket-v1-0", "a-simple-china-dress-v6-0"]
    assert normalised["lora_strength"] == [0.45, 0.55]


def test_validate_prints_the_error_body_and_exits_1_for_a_bad_body() -> None:
    result = run("validate", "-", stdin=json.dumps({"key": "k", "model_id": "m", "prompt": "p", "width": 2048}))
    assert result.returncode == 1
    body = json.loads(result.stdout)
    assert body["message"] == "width must be at most 1024, got 2048"
    assert body["errors"][0]["field"] == "width"


def test_validate_reports_non_json_in_the_error_shape() -> None:
    result = run("validate", "-", stdin="not json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["status"] == "error"
    assert "Traceback" not in result.stderr


def test_validate_exits_2_for_a_file_it_cannot_read_as_lint_does(tmp_path: Path) -> None:
    result = run("validate", str(tmp_path / "absent.json"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"error: cannot read {tmp_path / 'absent.json'}: No such file or directory" in result.stderr
    assert run("lint", str(tmp_path / "absent.json")).returncode == 2


@pytest.mark.parametrize("command", ["validate", "mock", "test", "serve", "make-tiny-model", "lint", "diff",
                                     "drift", "proxy"])
def test_help_lists_every_subcommand(command: str) -> None:
    result = run("--help")
    assert result.returncode == 0
    assert any(line.split()[:1] == [command] for line in result.stdout.splitlines()), result.stdout


def test_a_subcommand_that_cannot_be_imported_is_reported_not_crashed() -> None:
    from click.testing import CliRunner

    from t2i_contract.spec.cli import PluginGroup, main

    class Broken(PluginGroup):
        def _entry_points(self) -> dict[str, object]:
            class EntryPoint:
                name = "ghost"

                def load(self) -> object:
                    raise ImportError("No module named 'ghost_pkg'")

            return {"ghost": EntryPoint()}

    group = Broken(name="t2i", commands=main.commands)
    runner = CliRunner()
    listing = runner.invoke(group, ["--help"])
    assert listing.exit_code == 0 and "unavailable: ImportError" in listing.output
    invoked = runner.invoke(group, ["ghost", "--anything"])
    assert invoked.exit_code == 1 and "`t2i ghost` is unavailable here" in invoked.output
    assert invoked.exception is None or isinstance(invoked.exception, SystemExit)
